"""`python -m ogmux.server` runs the ogmux command line."""

import sys

from ogmux.server.cli import main

sys.exit(main())

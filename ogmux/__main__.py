"""`python -m ogmux` runs the ogmux command line."""

import sys

from ogmux.server.cli import main

sys.exit(main())

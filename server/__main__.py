"""`python -m server` runs the ogmux command line."""

import sys

from server.cli import main

sys.exit(main())

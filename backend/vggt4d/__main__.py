"""`python -m vggt4d` runs the command line (the same as the `vggt4d` script)."""

import sys

from vggt4d.cli import main

sys.exit(main())

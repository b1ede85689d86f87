"""Entry point of the frozen application (same as the `meterlab` console script)."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())

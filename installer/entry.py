"""Entry point of the frozen application (same as the `meterlab` console script)."""

import multiprocessing
import sys

from app.cli import main

if __name__ == "__main__":
    # `meterlab bench ingest` starts its emulated hubs in a child process ("spawn").
    multiprocessing.freeze_support()
    sys.exit(main())

"""`python -m armada`: the `armada` command (armada.cli)."""

import sys

from armada.cli import main

if __name__ == "__main__":
    sys.exit(main())

"""``python -m promptlab``: the same as the ``promptlab`` command."""

import sys

from promptlab.cli import main

if __name__ == "__main__":
    sys.exit(main())

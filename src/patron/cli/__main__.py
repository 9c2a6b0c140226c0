"""`python -m patron.cli …`: the same as the `patron` command (how Patron starts its own
worker and scheduler processes)."""

import sys

from patron.cli import main

if __name__ == "__main__":  # importing it (as the base-install test does) runs nothing
    sys.exit(main())

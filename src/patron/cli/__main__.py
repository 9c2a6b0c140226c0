"""`python -m patron.cli …`: the same as the `patron` command (how Patron starts its own
worker and scheduler processes)."""

import sys

from patron.cli import main

sys.exit(main())

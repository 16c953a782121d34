"""`python -m larvseg` runs the `larvseg` command."""

import sys

from .cli import main

sys.exit(main())

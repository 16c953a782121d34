"""`python -m larvseg` runs the `larvseg` command."""

import sys

from .cli.main import main

sys.exit(main())

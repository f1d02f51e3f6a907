"""python -m drawsense.cli: the same as python -m drawsense (and the drawsense command)."""

import sys

from drawsense.cli import main

sys.exit(main())

"""python -m drawsense: the same as the drawsense command."""

import sys

from drawsense.cli import main

sys.exit(main())

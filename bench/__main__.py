"""``python -m bench [--name NAME] [--n 20000] [--quick]`` (what ``make bench`` runs)."""

import sys

from bench.run import main

sys.exit(main())

"""`python -m lumos_core.cli` (torchrun uses it: `torchrun -m lumos_core.cli train-wm ...`)."""

import sys

from lumos_core.cli import main

sys.exit(main())

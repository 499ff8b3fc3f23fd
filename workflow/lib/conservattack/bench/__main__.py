"""``python -m conservattack.bench``: the attack engines' benchmark (``bench.engines``) and, with
``--case disco``, the distance-correlation one (``bench.disco``)."""

import sys

from .engines import main

sys.exit(main())

"""``python -m aekit VERB ...``: the command line, as the ``aekit`` script (and under
``torchrun -m aekit``)."""

import sys

from aekit.cli import main

sys.exit(main())

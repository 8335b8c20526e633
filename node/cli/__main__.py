"""``python -m node.cli``: the ``obol`` command without its installed script."""

import sys

from .main import main

sys.exit(main())

"""``python -m tsdb.cli``: the same as the ``tsdb`` console script."""

import sys

from tsdb.cli.main import main

sys.exit(main())

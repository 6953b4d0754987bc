"""`python -m camerahub.cli`: the camerahub command."""

import sys

from camerahub.cli import main

sys.exit(main())

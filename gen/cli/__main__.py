"""`python -m gen.cli`: the `bnngen` command."""

import sys

from gen.cli.entry import main


sys.exit(main())

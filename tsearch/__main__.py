import sys

from tsearch.cli import main

sys.exit(main())

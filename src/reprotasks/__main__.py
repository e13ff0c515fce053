import sys

from reprotasks.cli import main

sys.exit(main())

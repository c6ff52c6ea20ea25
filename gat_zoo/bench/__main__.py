"""``python -m gat_zoo.bench``: see ``python -m gat_zoo.bench --help``."""
import sys

from gat_zoo.bench.cli import main

if __name__ == '__main__':
    sys.exit(main())

"""``python -m rbm``: the command line (see ``rbm.cli``); with no arguments, the digits demo."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m rbm"))

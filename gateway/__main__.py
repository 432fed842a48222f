"""`python -m gateway`, and the `gateway` console script's entry point: light on purpose.

A decoding child (`gateway.isolation`) imports the console script, and with it this
module; the command's code is imported only when it runs.
"""

import sys


def main() -> int:
    from gateway.cli import main as run

    return run()


if __name__ == "__main__":  # not when a multiprocessing child imports the main module
    sys.exit(main())

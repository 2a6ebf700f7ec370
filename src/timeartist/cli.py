"""The ``timeartist`` command line.

Each subcommand lives in a ``_cmd_*`` function registered in ``build_parser``. Errors a user can fix (bad
input, missing files, mismatched checkpoints) end the program with one line on stderr and exit code 2;
``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import sys

from timeartist import __version__

logger = logging.getLogger("timeartist")

USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, KeyError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="timeartist", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"timeartist {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose or args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as err:
        if args.debug:
            raise
        msg = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"timeartist {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

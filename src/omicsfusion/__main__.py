"""Command line: ``python -m omicsfusion <command> ...``.

Each command lives in the module that owns its idea and registers itself
through ``add_parser(subparsers)``; the parser is assembled here so that
``--help`` lists them all. A named command imports only its own module
(``layout`` then starts without MONAI).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> module providing ``add_parser(subparsers)``; every parser
# sets ``func`` (called with the parsed namespace, returns an exit code).
COMMANDS = {
    "layout": "omicsfusion.apps.layout_cli",
    "benchmark": "omicsfusion.apps.benchmark_cli",
}


def build_parser(commands: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser with the given commands (default: all of :data:`COMMANDS`)."""
    parser = argparse.ArgumentParser(prog="python -m omicsfusion", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in commands or COMMANDS:
        importlib.import_module(COMMANDS[name]).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser([argv[0]] if argv and argv[0] in COMMANDS else None).parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

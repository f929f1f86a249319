"""``deepmt`` command line: a TensorFlow-free parser and a dispatch table.

Each sub-command lives in its own module under :mod:`deepmt.entrypoints`
and provides two functions:

* ``add_parser(subparsers)`` adds its ``argparse`` sub-parser;
* ``run(args)`` does the work (heavy imports happen inside).

Errors derived from :class:`deepmt.errors.DeepMTError` are printed as one
paragraph and turn into exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

#: sub-command name -> module under deepmt.entrypoints
COMMANDS = {
    "train": "train",
    "freeze": "freeze",
    "test": "test",
    "show": "show",
    "neighbor-stat": "neighbor_stat",
    "convert": "convert",
    "doc-train-input": "doc",
}


def _load(module: str):
    return importlib.import_module(f"deepmt.entrypoints.{module}")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, every sub-command included."""
    from deepmt import __version__

    parser = argparse.ArgumentParser(
        prog="deepmt",
        description="Multi-task deep-learning interatomic potentials: "
        "one shared descriptor, several named fitting heads, one model file.",
    )
    parser.add_argument("--version", action="version", version=f"deepmt {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        sub = _load(module).add_parser(subparsers)
        sub.add_argument(
            "-v", "--log-level", default="INFO",
            choices=["DEBUG", "INFO", "WARNING", "ERROR"],
            help="logging verbosity (default: INFO)",
        )
        sub.add_argument("-l", "--log-path", default=None,
                         help="also write the log to this file")
    return parser


def _setup_logging(level: str, path: Optional[str]) -> None:
    handlers = [logging.StreamHandler(sys.stderr)]
    if path:
        handlers.append(logging.FileHandler(path, mode="a"))
    logging.basicConfig(
        level=getattr(logging, level),
        format="deepmt %(levelname)s %(message)s",
        handlers=handlers,
        force=True,
    )


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    from deepmt.errors import DeepMTError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 1
    _setup_logging(args.log_level, args.log_path)
    try:
        result = _load(COMMANDS[args.command]).run(args)
    except DeepMTError as err:
        print(f"deepmt {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"deepmt {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

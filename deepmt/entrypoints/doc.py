"""``deepmt doc-train-input``: print the reference of every training-input key."""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``doc-train-input`` sub-parser and return it."""
    parser = subparsers.add_parser(
        "doc-train-input",
        help="print the reference of the training input keys",
        description="Print the reference of every key of the training input, "
        "generated from the schema of the installed components.",
    )
    parser.add_argument(
        "--out-type", default="markdown", choices=["markdown", "json"],
        help="markdown text (default) or the schema as JSON",
    )
    parser.add_argument(
        "-o", "--output", default=None,
        help="write to this file instead of standard output",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Generate the reference and print or write it."""
    from deepmt.errors import ConfigError
    from deepmt.train.config import gen_doc

    text = gen_doc(args.out_type)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        raise ConfigError(f"cannot write {args.output!r}: {err.strerror}.") from None
    return 0

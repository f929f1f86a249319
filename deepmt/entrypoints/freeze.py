"""``deepmt freeze``: checkpoint -> one frozen ``.pb`` holding every head."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``freeze`` sub-parser and return it."""
    parser = subparsers.add_parser(
        "freeze",
        help="freeze a training checkpoint into a model file",
        description="Turn a training checkpoint into one frozen .pb holding the shared "
        "descriptor and every head (or a single head with --head). The file is written "
        "atomically: readers never see a partial model.",
    )
    parser.add_argument(
        "-c", "--checkpoint-folder", "--checkpoint", dest="checkpoint", default=".",
        help="checkpoint folder (its 'checkpoint' file names the latest checkpoint) or a "
        "checkpoint prefix such as model.ckpt-1000 (default: .)",
    )
    parser.add_argument("-o", "--output", default="frozen_model.pb",
                        help="model file to write (default: frozen_model.pb)")
    parser.add_argument("--head", default=None,
                        help="keep only this head: a single-head model file")
    return parser


def run(args: argparse.Namespace) -> int:
    """Freeze and report the heads written."""
    from deepmt import keys
    from deepmt.freeze import freeze

    metadata = freeze(args.checkpoint, args.output, head=args.head)
    heads = keys.describe_heads(metadata["heads"])
    print(f"wrote {args.output}: heads {heads}; default head {metadata['default_head']}")
    return 0

"""Regenerate ``doc/input.md``, the reference of every training-input key.

The text comes from :func:`deepmt.train.config.gen_doc`, i.e. from the schema
assembled from the installed components; rerun this script whenever a
component's ``args()`` or the training schema changes::

    python doc/generate_input_doc.py          # rewrite doc/input.md
    python doc/generate_input_doc.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "doc" / "input.md"


def main(argv=None) -> int:
    """Write (or with ``--check`` compare) the reference; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only check that the file is up to date")
    parser.add_argument("--target", type=Path, default=TARGET,
                        help="file to write or check (default: doc/input.md)")
    args = parser.parse_args(argv)
    target = args.target
    sys.path.insert(0, str(ROOT))  # usable from a checkout without installing
    from deepmt.train.config import gen_doc

    text = gen_doc("markdown")
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{target} is out of date; run: python doc/generate_input_doc.py")
            return 1
        print(f"{target} is up to date")
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``deepmt show``: what a frozen model file holds (heads, types, descriptor)."""

from __future__ import annotations

import argparse
import json
from typing import Dict, List


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``show`` sub-parser and return it."""
    parser = subparsers.add_parser(
        "show",
        help="describe a frozen model file",
        description="Print the heads (name, kind, outputs), type map, cut-off, sel and "
        "descriptor of a frozen deepmt model. Reads the file only; runs nothing.",
    )
    parser.add_argument("model", help="frozen model file (.pb)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def describe(path: str) -> Dict:
    """Metadata of ``path`` with each head's output nodes (``outputs``)."""
    from deepmt.infer.model_file import (head_outputs, model_version, read_graph_def,
                                         read_metadata)

    graph_def = read_graph_def(path)
    meta = read_metadata(graph_def, path)
    heads = {name: dict(info, outputs=head_outputs(graph_def, name))
             for name, info in meta["heads"].items()}
    return {
        "model": path,
        "format": meta["format"],
        "version": meta.get("version"),
        "model_version": model_version(meta),
        "type_map": meta["type_map"],
        "rcut": meta["rcut"],
        "sel": meta["sel"],
        "descriptor": meta.get("descriptor", {}),
        "default_head": meta.get("default_head"),
        "heads": heads,
    }


def _table(rows: List[List[str]]) -> List[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
            for row in rows]


def format_text(info: Dict) -> str:
    """Human-readable description."""
    lines = [
        f"model file   : {info['model']}",
        f"format       : {info['format']} (model version {info['model_version']}"
        + (f", written by deepmt {info['version']})" if info["version"] else ")"),
        f"type map     : {' '.join(info['type_map'] or ['(none: raw type ids)'])}",
        f"rcut         : {info['rcut']}",
        f"sel          : {info['sel']}",
        f"descriptor   : {json.dumps(info['descriptor'], sort_keys=True)}",
        f"default head : {info['default_head']}",
        f"heads ({len(info['heads'])}):",
    ]
    rows = [["name", "kind", "sel_type", "output_dim", "dim_fparam", "dim_aparam", "outputs"]]
    for name, head in info["heads"].items():
        sel = head.get("sel_type") or []
        rows.append([name, head["type"], ",".join(map(str, sel)) or "-",
                     str(head.get("output_dim", "")), str(head.get("dim_fparam", 0)),
                     str(head.get("dim_aparam", 0)), " ".join(head["outputs"])])
    return "\n".join(lines + _table(rows)) + "\n"


def run(args: argparse.Namespace) -> int:
    """Print the description of the model file."""
    info = describe(args.model)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(format_text(info), end="")
    return 0

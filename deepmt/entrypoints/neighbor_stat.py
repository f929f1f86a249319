"""``deepmt neighbor-stat``: minimum distance and neighbour counts, to choose ``sel``.

Two ways to name the data:

* ``deepmt neighbor-stat -s DIR -r RCUT -t O H [--one-type]``;
* ``deepmt neighbor-stat INPUT.json``: every head's ``training_data`` systems,
  ``model.type_map`` and ``model.descriptor.rcut`` of a training input
  (``-s``, ``-r``, ``-t`` override them).
"""

from __future__ import annotations


def add_parser(subparsers):
    """Add the ``neighbor-stat`` sub-parser."""
    parser = subparsers.add_parser(
        "neighbor-stat",
        help="minimum neighbour distance and maximum neighbour count per type",
        description="Scan every frame of the data and print min_nbor_dist (the smallest "
        "distance between an atom and another atom or periodic image, in Angstrom) and "
        "max_nbor_size (per neighbour type, the largest number of neighbours within rcut), "
        "with the sel that 'auto' would choose.",
    )
    parser.add_argument("input", nargs="?", default=None,
                        help="training input (JSON or YAML); its training data, type_map "
                        "and descriptor rcut are used")
    parser.add_argument("-s", "--system", default=None,
                        help="folder searched recursively for systems (default: '.')")
    parser.add_argument("-r", "--rcut", type=float, default=None, help="cut-off radius (A)")
    parser.add_argument("-t", "--type-map", nargs="+", default=None, metavar="ELEMENT",
                        help="model type names, e.g. O H")
    parser.add_argument("--one-type", action="store_true",
                        help="count neighbours of all types together")
    return parser


def _read_input(path: str) -> dict:
    """The raw training input (JSON or YAML) of ``path``."""
    import os

    from deepmt.errors import ConfigError
    from deepmt.train.config import load_input

    if not os.path.isfile(path):
        raise ConfigError(f"training input {path!r} does not exist.")
    return load_input(path)


def _get(config: dict, keys: str, path: str):
    from deepmt.errors import ConfigError

    value = config
    for key in keys.split("."):
        if not isinstance(value, dict) or key not in value:
            raise ConfigError(f"{path}: key {keys!r} is missing.")
        value = value[key]
    return value


def _rcut(descriptor: dict, path: str) -> float:
    from deepmt.errors import ConfigError

    if isinstance(descriptor, dict) and "rcut" in descriptor:
        return float(descriptor["rcut"])
    parts = descriptor.get("list", []) if isinstance(descriptor, dict) else []
    cuts = [float(p["rcut"]) for p in parts if isinstance(p, dict) and "rcut" in p]
    if not cuts:
        raise ConfigError(f"{path}: model.descriptor.rcut is missing; give -r/--rcut.")
    return max(cuts)


def _input_blocks(config: dict, path: str) -> list:
    """``(where, data block)`` of every head's training data."""
    from deepmt.errors import ConfigError

    training = _get(config, "training", path)
    if "data_dict" in training:
        blocks = [(f"training.data_dict.{head}.training_data", _get(spec, "training_data", path))
                  for head, spec in training["data_dict"].items()]
    else:
        blocks = [("training.training_data", _get(training, "training_data", path))]
    for where, block in blocks:
        if not isinstance(block, dict) or "systems" not in block:
            raise ConfigError(f"{path}: {where}.systems is missing.")
    return blocks


def _open_systems(blocks: list, type_map):
    import os

    from deepmt.data import DataSystem, expand_systems

    seen, systems = set(), []
    for where, block in blocks:
        prefix = block.get("set_prefix", "set")
        for sys_path in expand_systems(block["systems"], f"{where}.systems"):
            key = (os.path.realpath(sys_path.split("#")[0]) + "#" + sys_path.partition("#")[2],
                   prefix)
            if key not in seen:
                seen.add(key)
                systems.append(DataSystem(sys_path, type_map, (), prefix))
    return systems


def _settings(args):
    """``(blocks, type_map, rcut)`` from the input and the flags."""
    from deepmt.errors import ConfigError

    blocks, type_map, rcut = None, args.type_map, args.rcut
    if args.input is not None:
        config = _read_input(args.input)
        if args.system is None:
            blocks = _input_blocks(config, args.input)
        if type_map is None:
            type_map = _get(config, "model.type_map", args.input)
        if rcut is None:
            rcut = _rcut(_get(config, "model.descriptor", args.input), args.input)
    if blocks is None:
        blocks = [("-s/--system", {"systems": args.system or "."})]
    if rcut is None or type_map is None:
        raise ConfigError("neighbor-stat needs -r/--rcut and -t/--type-map (or a training "
                          "input that holds model.descriptor.rcut and model.type_map).")
    if rcut <= 0:
        raise ConfigError(f"-r/--rcut must be positive, got {rcut}.")
    return blocks, list(type_map), rcut


def run(args) -> int:
    """Compute and print the statistics."""
    import logging

    from deepmt.data.neighbor_stat import auto_sel, neighbor_stat

    log = logging.getLogger("deepmt.neighbor_stat")
    blocks, type_map, rcut = _settings(args)
    systems = _open_systems(blocks, type_map)
    log.info("scanning %d system(s), %d frame(s), rcut = %g", len(systems),
             sum(s.nframes for s in systems), rcut)
    min_dist, max_nnei = neighbor_stat(systems, rcut, len(type_map), one_type=args.one_type)
    print(f"min_nbor_dist: {min_dist:f}")
    print(f"max_nbor_size: {max_nnei}")
    print(f"sel (auto:1.1): {auto_sel(max_nnei)}")
    return 0

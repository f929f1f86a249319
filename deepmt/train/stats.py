"""Statistics taken before training: neighbour counts (``sel``) and data stats.

Neighbour statistics run on the union of every head's training systems
(DeePMD-kit 2.2 crashes there in multi-task mode); they fill
``descriptor/sel: "auto[:factor]"``, warn when a user ``sel`` is smaller
than what the data shows, and give ``train_attr/min_nbor_dist``.
"""

from __future__ import annotations

import logging
import re
from typing import Dict, List, Optional

from deepmt.errors import ConfigError

log = logging.getLogger("deepmt.train")

_AUTO = re.compile(r"^auto(?::([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?))?$")


def parse_auto_sel(sel) -> Optional[float]:
    """The factor of ``sel: "auto[:f]"`` (1.1 by default), None for a list."""
    if not isinstance(sel, str):
        return None
    match = _AUTO.match(sel.strip())
    if not match:
        raise ConfigError(
            f"model/descriptor/sel: {sel!r} is not understood; give a list with one "
            "count per type, 'auto' or 'auto:<factor>' (e.g. 'auto:1.1').")
    return float(match.group(1)) if match.group(1) else 1.1


def training_system_paths(script: dict) -> List[str]:
    """Every head's training systems (expanded paths, first occurrence kept)."""
    from deepmt.data import expand_systems

    training = script["training"]
    blocks = []
    if "data_dict" in training:
        for head, entry in training["data_dict"].items():
            if entry and entry.get("training_data"):
                blocks.append((f"training/data_dict/{head}/training_data",
                               entry["training_data"]))
    elif training.get("training_data"):
        blocks.append(("training/training_data", training["training_data"]))
    paths: Dict[str, None] = {}
    for where, block in blocks:
        for path in expand_systems(block["systems"], f"{where}/systems"):
            paths.setdefault(path, None)
    return list(paths)


def resolve_sel(script: dict, skip: bool = False) -> Optional[float]:
    """Neighbour statistics for the descriptor of a normalized input.

    Fills ``model/descriptor/sel`` (in place) when it is ``"auto[:f]"`` with
    ``4 * ceil(int(max_nnei * f) / 4)`` per type; warns for a user ``sel``
    smaller than the observed maximum.

    Parameters
    ----------
    script
        The normalized input (modified in place).
    skip
        ``--skip-neighbor-stat``: do nothing (``sel`` must then be a list).

    Returns
    -------
    float or None
        ``min_nbor_dist`` in Å, None when skipped.

    Raises
    ------
    ConfigError
        ``sel`` is ``auto`` but the statistics are skipped, or ``sel`` is
        malformed.
    """
    descriptor = script["model"].get("descriptor") or {}
    if "sel" not in descriptor or "rcut" not in descriptor:
        return None
    factor = parse_auto_sel(descriptor["sel"])
    if skip:
        if factor is not None:
            raise ConfigError(
                f"model/descriptor/sel is {descriptor['sel']!r}, which needs the neighbour "
                "statistics, but --skip-neighbor-stat was given; give sel as a list "
                "(see 'deepmt neighbor-stat') or drop --skip-neighbor-stat.")
        return None
    min_dist, max_nnei = _neighbor_stat(script, float(descriptor["rcut"]))
    counts = [int(m) for m in max_nnei]
    log.info("neighbour statistics: min_nbor_dist %.6f, max_nbor_size %s", min_dist, counts)
    if factor is not None:
        from deepmt.data.neighbor_stat import auto_sel

        descriptor["sel"] = [int(s) for s in auto_sel(max_nnei, factor)]
        log.info("sel %r resolved to %s", f"auto:{factor:g}", descriptor["sel"])
    else:
        _warn_small_sel(descriptor["sel"], counts, script["model"].get("type_map"))
    return float(min_dist)


def _neighbor_stat(script: dict, rcut: float):
    from deepmt.data import DataSystem
    from deepmt.data.neighbor_stat import neighbor_stat

    type_map = script["model"].get("type_map")
    systems = [DataSystem(path, type_map) for path in training_system_paths(script)]
    sel = script["model"]["descriptor"]["sel"]
    if type_map is not None:
        ntypes = len(type_map)
    elif isinstance(sel, list):
        ntypes = len(sel)
    else:
        ntypes = max(s.ntypes for s in systems)
    for system in systems:
        system.set_ntypes(ntypes)
    return neighbor_stat(systems, rcut, ntypes)


def _warn_small_sel(sel: list, counts: List[int], type_map) -> None:
    for t, (given, seen) in enumerate(zip(sel, counts)):
        if 0 < given < seen:
            name = type_map[t] if type_map and t < len(type_map) else f"type {t}"
            log.warning(
                "model/descriptor/sel[%d] = %d is smaller than the %d neighbours of type %s "
                "seen within rcut in the training data; the farthest ones will be ignored "
                "(raise sel, or use sel: \"auto\")", t, given, seen, name)


def data_stat_batches(tasks, nbatch: int) -> Dict[str, list]:
    """``nbatch`` batches per system of every head with training data.

    Returns
    -------
    dict
        Head -> flat list of batches (each carries ``sys_idx``).
    """
    from deepmt.data import make_stat_sample, pool_frames

    out = {}
    for task in tasks:
        if task.train_data is not None:
            out[task.name] = pool_frames(make_stat_sample(task.train_data, nbatch))
    return out

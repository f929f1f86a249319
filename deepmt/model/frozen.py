"""Reading initial variable values from a frozen model (``--init-frz-model``).

Freezing turns every variable into a constant of the same name, so the
constants of a frozen deepmt model are a name -> value map of the variables
of the model it came from.
"""

from __future__ import annotations

import os
from typing import Dict

import numpy as np

from deepmt import keys
from deepmt.errors import ModelFileError
from deepmt.utils.tf_compat import get_tf


def _read_graph_def(path: str):
    tf = get_tf()
    if not os.path.isfile(path):
        raise ModelFileError(f"frozen model {path!r} does not exist.")
    graph_def = tf.GraphDef()
    try:
        with open(path, "rb") as handle:
            graph_def.ParseFromString(handle.read())
    except Exception as err:  # protobuf raises its own DecodeError
        raise ModelFileError(f"{path!r} is not a frozen TensorFlow graph ({err}).") from None
    return graph_def


def frozen_constants(source) -> Dict[str, np.ndarray]:
    """Name -> value of every constant of a frozen deepmt model.

    Parameters
    ----------
    source
        Path of a ``.pb`` file, a ``GraphDef``, or already a dict (returned
        as is, values converted to arrays).

    Raises
    ------
    ModelFileError
        Unreadable file, or a graph that is not a deepmt model.
    """
    if isinstance(source, dict):
        return {name: np.asarray(value) for name, value in source.items()}
    tf = get_tf()
    where = source if isinstance(source, (str, os.PathLike)) else "the given GraphDef"
    graph_def = _read_graph_def(os.fspath(source)) if isinstance(
        source, (str, os.PathLike)) else source
    values = {}
    for node in graph_def.node:
        if node.op == "Const":
            values[node.name] = tf.make_ndarray(node.attr["value"].tensor)
    if keys.ATTR_FORMAT not in values:
        raise ModelFileError(
            f"{where} is not a deepmt model (it has no {keys.ATTR_FORMAT!r} constant); "
            "only models frozen by deepmt can initialise a deepmt model."
        )
    return values


def select_values(values: Dict[str, np.ndarray], head_map: Dict[str, str]) -> Dict[str, np.ndarray]:
    """Keep shared values and the selected heads' values, renamed to the new heads.

    Parameters
    ----------
    values
        Frozen constant name -> value.
    head_map
        New head name -> head name in the frozen model.
    """
    by_old: Dict[str, list] = {}
    for new, old in head_map.items():
        by_old.setdefault(old, []).append(new)
    out = {}
    for name, value in values.items():
        if not name.startswith("heads/"):
            out[name] = value
            continue
        _, old, rest = name.split("/", 2)
        for new in by_old.get(old, ()):
            out[f"heads/{new}/{rest}"] = value
    return out


def check_type_map(values: Dict[str, np.ndarray], type_map) -> None:
    """Refuse a frozen model whose type map differs from the new model's."""
    if type_map is None or keys.TYPE_MAP not in values:
        return
    raw = values[keys.TYPE_MAP]
    frozen = (raw.item() if hasattr(raw, "item") else raw)
    frozen = frozen.decode() if isinstance(frozen, bytes) else str(frozen)
    if frozen.split() != list(type_map):
        raise ModelFileError(
            f"the frozen model's type_map {frozen.split()} differs from the model's "
            f"type_map {list(type_map)}; per-type weights would be mixed up."
        )

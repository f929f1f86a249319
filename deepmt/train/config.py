"""Training input: loading, normalisation, strict checking, run specification.

Typical use (this is what ``deepmt train`` does)::

    jdata = normalize(load_input("input.json"))   # ConfigError on any mistake
    spec = make_run_spec(jdata)                   # frozen per-head view

:func:`normalize` returns the input in the user's own form (single or multi
task) with comments stripped, aliases rewritten and every default filled; it
is what ``out.json`` and the frozen model store.  In a multi-task input it
also fills ``loss_dict`` for every head and replaces ``fitting_weight`` by the
normalised weights (0 for a head that is not trained).  No TensorFlow here.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from deepmt.errors import ConfigError
from deepmt.keys import SINGLE_TASK_HEAD
from deepmt.train import config_check as chk
from deepmt.train.config_mt import (
    apply_default_losses,
    check_kind_match,
    check_mode,
    normalize_weights,
)
from deepmt.train.config_schema import Registries, build_schema, default_registries

log = logging.getLogger(__name__)

__all__ = [
    "HeadSpec", "RunSpec", "Registries", "load_input", "normalize",
    "make_run_spec", "gen_doc",
]

#: training keys that hold data or head weights (left out of RunSpec.training)
DATA_KEYS = ("training_data", "validation_data", "data_dict", "fitting_weight")


# --- loading ----------------------------------------------------------------

def _no_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _parse_json(text: str, path: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"cannot parse the JSON input file {path!r}: {err.msg} at line "
            f"{err.lineno}, column {err.colno}."
        ) from None
    except ValueError as err:
        raise ConfigError(
            f"cannot use the JSON input file {path!r}: {err} in one object "
            "(the later value would silently win)."
        ) from None


def _parse_yaml(text: str, path: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(
            f"cannot parse the YAML input file {path!r}: {problem}{where}."
        ) from None


def load_input(path: str) -> dict:
    """Read a training input from JSON, or YAML when it ends in .yaml/.yml.

    Parameters
    ----------
    path
        The input file.

    Returns
    -------
    dict
        The raw input (not normalized).

    Raises
    ------
    ConfigError
        The file is missing, cannot be parsed (the message gives line and
        column), or does not hold a mapping.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise ConfigError(f"cannot read the input file {path!r}: {err.strerror}.") from None
    is_yaml = path.lower().endswith((".yaml", ".yml"))
    data = _parse_yaml(text, path) if is_yaml else _parse_json(text, path)
    if not isinstance(data, dict):
        raise ConfigError(
            f"the input file {path!r} must hold a mapping of sections "
            f"(model, training, ...), found {chk.describe(data)}."
        )
    return data


# --- normalisation ----------------------------------------------------------

def _check_data_lengths(block: Optional[dict], path: List[str]) -> None:
    """``batch_size``/``sys_probs`` lists need one entry per listed system."""
    if not block or not isinstance(block["systems"], list):
        return
    nsys = len(block["systems"])
    for key in ("batch_size", "sys_probs"):
        value = block.get(key)
        if isinstance(value, list) and len(value) != nsys:
            raise ConfigError(
                f"key `{chk.join(path + [key])}` has {len(value)} entries but "
                f"`{chk.join(path + ['systems'])}` lists {nsys} systems; give "
                "one entry per system."
            )


def _check_all_data(jdata: dict, multi: bool) -> None:
    training = jdata["training"]
    if multi:
        for head, entry in training.get("data_dict", {}).items():
            for key in ("training_data", "validation_data"):
                _check_data_lengths(entry.get(key), ["training", "data_dict", head, key])
    else:
        for key in ("training_data", "validation_data"):
            _check_data_lengths(training.get(key), ["training", key])


def normalize(jdata: dict, *, registries: Optional[Registries] = None) -> dict:
    """Check a raw training input and return it normalized.

    Parameters
    ----------
    jdata
        The raw input (from :func:`load_input`); it is not modified.
    registries
        Component registries to build the schema from; default: the
        installed descriptors, fittings, losses and learning rates.

    Returns
    -------
    dict
        The input without ``_``-keys, aliases rewritten to canonical names,
        every default filled, keys in schema order; multi task also gets a
        ``loss_dict`` entry per head and normalised ``fitting_weight``.

    Raises
    ------
    ConfigError
        Any mistake; the message names the full key path (e.g.
        ``loss_dict/water_dipole/pref_atomic``).
    """
    reg = registries or default_registries()
    if not isinstance(jdata, dict):
        raise ConfigError(
            "the training input must be a mapping of sections (model, "
            f"training, ...), found {chk.describe(jdata)}."
        )
    data = chk.strip_comments(jdata)
    chk.check_finite(data, [])
    multi = check_mode(data)
    apply_default_losses(data, multi, reg)
    check_kind_match(data, multi, reg)
    result = chk.normalize_dict(build_schema(reg), data, [])
    _check_all_data(result, multi)
    if multi:
        # the single-task default `validation_data: null` has no place here
        result["training"].pop("validation_data", None)
        result["training"]["fitting_weight"] = normalize_weights(result)
    return result


# --- run specification ------------------------------------------------------

@dataclass(frozen=True)
class HeadSpec:
    """Everything the trainer needs about one head.

    Attributes
    ----------
    name
        Head name (``main`` for a single-task input).
    fitting, loss, learning_rate
        Normalized sections, each with its ``type``.
    training_data, validation_data
        Normalized data blocks, or None (no data: the head is not trained;
        no validation).
    weight
        Normalised sampling probability in [0, 1]; 0 means not trained.
    """

    name: str
    fitting: dict
    loss: dict
    learning_rate: dict
    training_data: Optional[dict]
    validation_data: Optional[dict]
    weight: float


@dataclass(frozen=True)
class RunSpec:
    """Per-head view of a normalized input.

    Attributes
    ----------
    multi_task
        True when the input uses ``fitting_net_dict``.
    type_map
        ``model/type_map`` or None.
    model
        The ``model`` section without ``fitting_net``/``fitting_net_dict``.
    heads
        Head name -> :class:`HeadSpec`, in input order.
    training
        The ``training`` section without its data keys
        (``training_data``, ``validation_data``, ``data_dict``, ``fitting_weight``).
    """

    multi_task: bool
    type_map: Optional[List[str]]
    model: dict
    heads: Dict[str, HeadSpec]
    training: dict


def _multi_heads(jdata: dict) -> Dict[str, HeadSpec]:
    fittings = jdata["model"]["fitting_net_dict"]
    training = jdata["training"]
    data = training.get("data_dict", {})
    lr_dict = jdata.get("learning_rate_dict", {})
    weights = training.get("fitting_weight") or {}
    heads = {}
    for name, fitting in fittings.items():
        entry = data.get(name) or {}
        heads[name] = HeadSpec(
            name=name,
            fitting=copy.deepcopy(fitting),
            loss=copy.deepcopy(jdata["loss_dict"][name]),
            learning_rate=copy.deepcopy(lr_dict.get(name, jdata["learning_rate"])),
            training_data=copy.deepcopy(entry.get("training_data")),
            validation_data=copy.deepcopy(entry.get("validation_data")),
            weight=float(weights.get(name, 0.0)),
        )
    return heads


def _single_head(jdata: dict) -> Dict[str, HeadSpec]:
    training = jdata["training"]
    head = HeadSpec(
        name=SINGLE_TASK_HEAD,
        fitting=copy.deepcopy(jdata["model"]["fitting_net"]),
        loss=copy.deepcopy(jdata["loss"]),
        learning_rate=copy.deepcopy(jdata["learning_rate"]),
        training_data=copy.deepcopy(training["training_data"]),
        validation_data=copy.deepcopy(training.get("validation_data")),
        weight=1.0,
    )
    return {SINGLE_TASK_HEAD: head}


def make_run_spec(normalized: dict) -> RunSpec:
    """Split a normalized input (from :func:`normalize`) into heads.

    Parameters
    ----------
    normalized
        Output of :func:`normalize`; it is not modified (everything is copied).

    Returns
    -------
    RunSpec
        One :class:`HeadSpec` per head; a single-task input has one head
        named ``main``.
    """
    model = normalized["model"]
    multi = "fitting_net_dict" in model
    heads = _multi_heads(normalized) if multi else _single_head(normalized)
    shared = {k: copy.deepcopy(v) for k, v in model.items()
              if k not in ("fitting_net", "fitting_net_dict")}
    training = {k: copy.deepcopy(v) for k, v in normalized["training"].items()
                if k not in DATA_KEYS}
    type_map = model.get("type_map")
    return RunSpec(
        multi_task=multi,
        type_map=list(type_map) if type_map is not None else None,
        model=shared, heads=heads, training=training,
    )


# --- documentation ----------------------------------------------------------

def gen_doc(fmt: str = "markdown", *, registries: Optional[Registries] = None) -> str:
    """Reference of every input key, generated from the schema.

    Parameters
    ----------
    fmt
        ``markdown`` (the text of ``doc/input.md``) or ``json`` (the dargs
        schema serialised as JSON).
    registries
        Component registries; default: the installed components.
    """
    from deepmt.train.config_doc import schema_json, schema_markdown

    schema = build_schema(registries or default_registries())
    if fmt == "markdown":
        return schema_markdown(schema)
    if fmt == "json":
        return schema_json(schema)
    raise ConfigError(f"unknown documentation format {fmt!r}; use markdown or json.")

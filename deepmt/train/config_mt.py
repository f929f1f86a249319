"""Single- versus multi-task rules of the training input.

These checks run before (``check_mode``, ``apply_default_losses``) and after
(``check_kind_match``, ``normalize_weights``) the schema walk of
:mod:`deepmt.train.config_check`.  A multi-task input names its heads in
``model/fitting_net_dict``; the per-head sections (``loss_dict``,
``learning_rate_dict``, ``training/data_dict``, ``training/fitting_weight``)
may only use those names.
"""

from __future__ import annotations

import copy
import logging
from typing import List, Optional, Tuple

from deepmt.errors import ConfigError
from deepmt.keys import HEAD_NAME_RULE, is_valid_head_name
from deepmt.train.config_check import describe, join, suggest
from deepmt.train.config_schema import Registries

log = logging.getLogger("deepmt.train.config")

#: keys that only a single-task input (``model/fitting_net``) may use
SINGLE_ONLY = (("model", "fitting_net"), ("loss",), ("training", "training_data"),
               ("training", "validation_data"))
#: keys that only a multi-task input (``model/fitting_net_dict``) may use
MULTI_ONLY = (("model", "fitting_net_dict"), ("loss_dict",), ("learning_rate_dict",),
              ("training", "data_dict"), ("training", "fitting_weight"))
#: per-head sections whose keys must be heads of ``model/fitting_net_dict``
PER_HEAD = (("loss_dict",), ("learning_rate_dict",), ("training", "data_dict"),
            ("training", "fitting_weight"))

#: the loss a head gets when it has none, by the kind of its fitting
DEFAULT_LOSS = {
    "ener": {"type": "ener"},
    "dipole": {"type": "tensor", "pref": 1.0, "pref_atomic": 1.0},
    "polar": {"type": "tensor", "pref": 1.0, "pref_atomic": 1.0},
}
#: fitting kinds each built-in loss can train, for loss classes that do not
#: say so themselves with a ``fitting_kinds`` attribute
LOSS_KINDS = {"ener": ("ener",), "tensor": ("dipole", "polar")}


def _get(data: dict, path: Tuple[str, ...]):
    """Value at ``path`` or None (also when a parent is not a dict)."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _section(data: dict, name: str) -> dict:
    if name not in data:
        raise ConfigError(f"section `{name}` is required but missing from the input.")
    if not isinstance(data[name], dict):
        raise ConfigError(
            f"key `{name}` has the wrong type: expected dict, found {describe(data[name])}."
        )
    return data[name]


def _reject_mixed(data: dict, multi: bool) -> None:
    forbidden = SINGLE_ONLY if multi else MULTI_ONLY
    wrong = [join(p) for p in forbidden if _get(data, p) is not None]
    if not wrong:
        return
    if multi:
        raise ConfigError(
            "a multi-task input (one with `model/fitting_net_dict`) cannot use "
            f"the single-task keys {', '.join(f'`{w}`' for w in wrong)}; give "
            "them per head instead: `loss_dict/<head>`, "
            "`training/data_dict/<head>/training_data` and "
            "`training/data_dict/<head>/validation_data`."
        )
    raise ConfigError(
        "a single-task input (one with `model/fitting_net`) cannot use the "
        f"multi-task keys {', '.join(f'`{w}`' for w in wrong)}; use `loss`, "
        "`learning_rate`, `training/training_data` and "
        "`training/validation_data`, or turn `model/fitting_net` into "
        "`model/fitting_net_dict` to train several heads."
    )


def _check_heads(fittings) -> List[str]:
    if not isinstance(fittings, dict) or not fittings:
        raise ConfigError(
            "key `model/fitting_net_dict` must be a non-empty mapping of head "
            f"name to fitting net, found {describe(fittings)}."
        )
    for name in fittings:
        if not is_valid_head_name(name):
            raise ConfigError(
                f"head name {name!r} in `model/fitting_net_dict` is not allowed: "
                f"{HEAD_NAME_RULE}."
            )
    return list(fittings)


def _check_head_keys(data: dict, heads: List[str]) -> None:
    for path in PER_HEAD:
        section = _get(data, path)
        if not isinstance(section, dict):
            continue  # absent, or a type error the schema walk reports
        unknown = [k for k in section if k not in heads]
        if not unknown:
            continue
        hints = [f"`{k}` (did you mean `{suggest(str(k), heads)}`?)"
                 if suggest(str(k), heads) else f"`{k}`" for k in unknown]
        raise ConfigError(
            f"the keys of `{join(path)}` must be heads of "
            f"`model/fitting_net_dict`; unknown: {', '.join(hints)}; the heads "
            f"are: {', '.join(heads)}."
        )


def check_mode(data: dict) -> bool:
    """Apply the single/multi-task rules to a comment-free raw input.

    Returns
    -------
    bool
        True for a multi-task input.

    Raises
    ------
    ConfigError
        Missing ``model``/``training``; both or neither of ``fitting_net`` and
        ``fitting_net_dict``; single and multi keys mixed; missing
        ``training_data`` (single) or ``type_map``/``data_dict`` (multi); a
        bad head name; a per-head key that is not a head.
    """
    model = _section(data, "model")
    training = _section(data, "training")
    if "fitting_net" in model and "fitting_net_dict" in model:
        raise ConfigError(
            "`model/fitting_net` and `model/fitting_net_dict` cannot both be "
            "given: `fitting_net` makes a single-task input, `fitting_net_dict` "
            "a multi-task one."
        )
    if "fitting_net" not in model and "fitting_net_dict" not in model:
        raise ConfigError(
            "section `model` needs `fitting_net` (single task) or "
            "`fitting_net_dict` (multi task: one fitting net per head)."
        )
    multi = "fitting_net_dict" in model
    _reject_mixed(data, multi)
    if not multi:
        if training.get("training_data") is None:
            raise ConfigError("key `training/training_data` is required but missing.")
        return False
    heads = _check_heads(model["fitting_net_dict"])
    if "type_map" not in model:
        raise ConfigError(
            "key `model/type_map` is required in a multi-task input: every head "
            "must map element names to the same model types."
        )
    if training.get("data_dict") is None:
        raise ConfigError(
            "key `training/data_dict` is required in a multi-task input: give "
            "`training/data_dict/<head>/training_data` for each head to train."
        )
    _check_head_keys(data, heads)
    return True


# --- losses -----------------------------------------------------------------

def _fitting_kind(fitting, reg: Registries) -> Optional[str]:
    """Kind (ener/dipole/polar) of a raw fitting section, None if unknown."""
    if not isinstance(fitting, dict):
        return None
    tag = fitting.get("type", "ener")
    try:
        cls = reg.fitting.get(tag) if isinstance(tag, str) else None
    except KeyError:
        return None  # the schema walk reports the unknown type
    return getattr(cls, "kind", "ener") if cls is not None else None


def _default_loss(kind: Optional[str], reg: Registries) -> dict:
    spec = DEFAULT_LOSS.get(kind or "ener", DEFAULT_LOSS["ener"])
    return copy.deepcopy(spec) if spec["type"] in reg.loss.names() else {}


def _complete_loss(loss, kind: Optional[str], reg: Registries):
    """Default loss when absent; the type of the head's kind when not given."""
    if loss is None:
        return _default_loss(kind, reg)
    if isinstance(loss, dict) and "type" not in loss:
        default_type = _default_loss(kind, reg).get("type")
        if default_type:
            loss = {"type": default_type, **loss}
    return loss


def apply_default_losses(data: dict, multi: bool, reg: Registries) -> None:
    """Give every head a loss (in place): the default of its fitting kind.

    Called after :func:`check_mode`; ``loss_dict`` ends up in head order.
    """
    model = data["model"]
    if not multi:
        kind = _fitting_kind(model["fitting_net"], reg)
        data["loss"] = _complete_loss(data.get("loss"), kind, reg)
        return
    loss_dict = data.get("loss_dict", {})
    if not isinstance(loss_dict, dict):
        return  # the schema walk reports the type error
    data["loss_dict"] = {
        head: _complete_loss(loss_dict.get(head), _fitting_kind(fitting, reg), reg)
        for head, fitting in model["fitting_net_dict"].items()
    }


def _loss_kinds(loss, reg: Registries):
    """Fitting kinds a raw loss section can train, or None if unknown."""
    tag = loss.get("type") if isinstance(loss, dict) else None
    try:
        name = reg.loss.canonical(tag) if isinstance(tag, str) else None
    except KeyError:
        return None  # the schema walk reports the unknown type
    if name is None:
        return None
    return getattr(reg.loss.get(name), "fitting_kinds", None) or LOSS_KINDS.get(name)


def check_kind_match(data: dict, multi: bool, reg: Registries) -> None:
    """Reject a loss that cannot train its head's fitting kind.

    Runs on the raw input after :func:`apply_default_losses`, before the
    schema walk, so that an ``ener`` loss on a dipole head is reported as
    such rather than as a list of unknown keys.
    """
    model = data["model"]
    if multi:
        losses = data["loss_dict"] if isinstance(data.get("loss_dict"), dict) else {}
        pairs = [(fit, losses.get(h), f"loss_dict/{h}", f"head `{h}`")
                 for h, fit in model["fitting_net_dict"].items()]
    else:
        pairs = [(model["fitting_net"], data.get("loss"), "loss", "the model")]
    for fitting, loss, path, whose in pairs:
        kind = _fitting_kind(fitting, reg)
        kinds = _loss_kinds(loss, reg)
        if kind is None or kinds is None or kind in kinds:
            continue
        wanted = DEFAULT_LOSS.get(kind, {}).get("type", "?")
        raise ConfigError(
            f"key `{path}/type` is `{loss['type']}`, which cannot train "
            f"{whose}: its fitting `{fitting.get('type', 'ener')}` predicts "
            f"{kind}; use a `{wanted}` loss."
        )


# --- head weights -----------------------------------------------------------

def _raw_weight(head: str, has_data: bool, given: Optional[dict]) -> float:
    if not has_data:
        log.warning("head %r has no entry in training/data_dict: it will not be "
                    "trained", head)
        return 0.0
    if given is None:
        return 1.0
    if head not in given:
        log.warning("head %r has no weight in training/fitting_weight: it will "
                    "not be trained", head)
        return 0.0
    weight = float(given[head])
    if weight < 0:
        raise ConfigError(
            f"key `training/fitting_weight/{head}` is {given[head]!r}; weights "
            "must be >= 0 (0 leaves the head untrained)."
        )
    if weight == 0:
        log.warning("head %r has weight 0 in training/fitting_weight: it will "
                    "not be trained", head)
    return weight


def normalize_weights(jdata: dict) -> dict:
    """Normalised head sampling weights, in head order, summing to 1.

    A head without data, without a weight (when ``fitting_weight`` is
    given) or with weight 0 gets 0 and a logged warning.

    Raises
    ------
    ConfigError
        A negative weight, or no head left to train.
    """
    heads = list(jdata["model"]["fitting_net_dict"])
    training = jdata["training"]
    data = training.get("data_dict") or {}
    given = training.get("fitting_weight")
    raw = {h: _raw_weight(h, h in data, given) for h in heads}
    total = sum(raw.values())
    if total <= 0:
        raise ConfigError(
            "no head would be trained: every head of `model/fitting_net_dict` "
            f"({', '.join(heads)}) lacks data in `training/data_dict` or has "
            "weight 0 in `training/fitting_weight`; give at least one head data "
            "and a positive weight."
        )
    return {h: w / total for h, w in raw.items()}

"""Completing a multi-task input from the script stored in a frozen model.

With ``--init-frz-model U.pb`` a multi-task input may leave sections to the
model it starts from: ``"descriptor": {}`` and empty heads
(``"water_ener": {}``) in ``model/fitting_net_dict`` take their configuration
from ``train_attr/training_script`` of ``U.pb``; ``loss_dict``,
``learning_rate_dict`` and ``training/data_dict`` entries of reused heads are
copied when the input lacks them; ``type_map`` becomes the frozen model's
(the input's elements must be among them).  This runs on the raw input,
before normalization.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Dict

from deepmt import keys
from deepmt.errors import ConfigError, ModelFileError

log = logging.getLogger("deepmt.train")


def read_frozen_script(path: str) -> dict:
    """The normalized input stored in a frozen model.

    Raises
    ------
    ModelFileError
        Unreadable file, or a model without ``train_attr/training_script``.
    """
    from deepmt.model.frozen import frozen_constants

    values = frozen_constants(path)
    raw = values.get(keys.ATTR_TRAINING_SCRIPT)
    if raw is None:
        raise ModelFileError(
            f"frozen model {path!r} has no {keys.ATTR_TRAINING_SCRIPT} constant, so empty "
            "sections of the input cannot be completed from it; give them in full.")
    text = raw.item() if hasattr(raw, "item") else raw
    text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
    try:
        return json.loads(text)
    except ValueError:
        raise ModelFileError(f"frozen model {path!r}: its training script is not valid "
                             "JSON.") from None


def _old_heads(script: dict) -> Dict[str, dict]:
    """Head -> (fitting, loss, learning rate, data) sections of a stored script."""
    model = script.get("model", {})
    training = script.get("training", {})
    if "fitting_net_dict" in model:
        return {h: {"fitting": f, "loss": script.get("loss_dict", {}).get(h),
                    "lr": script.get("learning_rate_dict", {}).get(h),
                    "data": training.get("data_dict", {}).get(h)}
                for h, f in model["fitting_net_dict"].items()}
    data = {k: training[k] for k in ("training_data", "validation_data") if training.get(k)}
    return {keys.SINGLE_TASK_HEAD: {"fitting": model.get("fitting_net"),
                                    "loss": script.get("loss"), "lr": None,
                                    "data": data or None}}


def _merge_type_map(model: dict, old_map, path: str) -> None:
    new_map = model.get("type_map")
    if old_map is None or new_map == old_map:
        return
    if new_map is not None:
        extra = [t for t in new_map if t not in old_map]
        if extra:
            raise ConfigError(
                f"model/type_map: element(s) {extra} are not in the type_map {old_map} of "
                f"the frozen model {path!r}; a model started from it must use its types.")
        log.info("model/type_map %s replaced by the frozen model's %s", new_map, old_map)
    model["type_map"] = list(old_map)


def complete_from_frozen(jdata: dict, path: str) -> dict:
    """Fill the empty sections of a multi-task input from ``path``.

    Parameters
    ----------
    jdata
        Raw input (not modified); single-task inputs are returned unchanged.
    path
        The frozen model given to ``--init-frz-model``.

    Returns
    -------
    dict
        The completed input.

    Raises
    ------
    ConfigError
        An empty head that the frozen model does not have, or elements the
        frozen model does not know.
    """
    model = jdata.get("model") if isinstance(jdata, dict) else None
    if not isinstance(model, dict) or not isinstance(model.get("fitting_net_dict"), dict):
        return jdata
    out = copy.deepcopy(jdata)
    model = out["model"]
    script = read_frozen_script(path)
    old_model = script.get("model", {})
    old = _old_heads(script)
    if not model.get("descriptor"):
        model["descriptor"] = copy.deepcopy(old_model.get("descriptor"))
    _merge_type_map(model, old_model.get("type_map"), path)
    reused, fresh = [], []
    for head, fitting in model["fitting_net_dict"].items():
        if head not in old:
            if not fitting:
                raise ConfigError(
                    f"model/fitting_net_dict/{head} is empty but the frozen model {path!r} "
                    f"has no head {head!r} to take it from; its heads are {sorted(old)}.")
            fresh.append(head)
            continue
        reused.append(head)
        if not fitting:
            model["fitting_net_dict"][head] = copy.deepcopy(old[head]["fitting"])
        _copy_missing(out, head, old[head])
    log.info("heads configured and initialized from %s: %s", path, reused or "none")
    log.info("heads initialized from scratch: %s", fresh or "none")
    return out


def _copy_missing(out: dict, head: str, old: dict) -> None:
    """Copy a reused head's loss, learning rate and data when absent."""
    if old["loss"] is not None:
        out.setdefault("loss_dict", {}).setdefault(head, copy.deepcopy(old["loss"]))
    if old["lr"] is not None and "learning_rate_dict" in out:
        out["learning_rate_dict"].setdefault(head, copy.deepcopy(old["lr"]))
    if old["data"] is not None:
        training = out.setdefault("training", {})
        training.setdefault("data_dict", {}).setdefault(head, copy.deepcopy(old["data"]))

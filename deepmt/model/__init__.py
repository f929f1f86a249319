"""The multi-head model: one shared descriptor and a dict of fitting heads.

Importing this package does not import TensorFlow.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from deepmt.errors import ConfigError
from deepmt.model.model import Model, check_head_names

__all__ = ["Model", "build_model"]

#: model-level keys deepmt does not support (their presence is an error)
_UNSUPPORTED = ("type_embedding", "use_srtab", "modifier", "spin", "compress")


def _component(registry, config: dict, path: str, default: Optional[str] = None):
    config = dict(config or {})
    name = config.pop("type", default)
    if name is None:
        raise ConfigError(f"{path}/type: this key is required.")
    try:
        return registry.get(name), config
    except KeyError as err:
        raise ConfigError(f"{path}/type: {err.args[0]}") from None


def build_model(model_config: dict, fittings_config: Dict[str, dict],
                type_map: Optional[List[str]]) -> Model:
    """Build a :class:`Model` from the normalized config.

    Parameters
    ----------
    model_config
        The ``model`` section without ``fitting_net``/``fitting_net_dict``
        (``descriptor`` dict with ``type``, ``data_stat_nbatch``,
        ``data_stat_protect``, ...). ``descriptor/sel`` must be a list (an
        ``"auto"`` sel is resolved by the neighbour statistics first).
    fittings_config
        Head name -> fitting dict (``type`` defaults to ``ener``), in order.
    type_map
        Element names; ``None`` uses raw type ids (``ntypes = len(sel)``).

    Raises
    ------
    ConfigError
        Invalid head names, unknown component types or keys, a dipole/polar
        head on a descriptor without rotation matrix, ...
    """
    from deepmt.descriptor import DESCRIPTORS
    from deepmt.fitting import FITTINGS
    from deepmt.fitting.base import fitting_path

    for key in _UNSUPPORTED:
        if model_config.get(key) is not None:
            raise ConfigError(f"model/{key}: not supported by deepmt.")
    if not fittings_config:
        raise ConfigError("model: no fitting net is given (fitting_net or fitting_net_dict).")
    check_head_names(list(fittings_config))
    desc_cls, desc_cfg = _component(DESCRIPTORS, model_config.get("descriptor"),
                                    "model/descriptor")
    if type_map is not None:
        if not type_map or not all(isinstance(name, str) for name in type_map):
            raise ConfigError(f"model/type_map: expected a list of element names, got "
                              f"{type_map!r}.")
        ntypes = len(type_map)
    elif isinstance(desc_cfg.get("sel"), list):
        ntypes = len(desc_cfg["sel"])
    else:
        raise ConfigError("model/type_map is required when descriptor/sel is not a list.")
    descriptor = desc_cls(ntypes, **desc_cfg)
    fittings = {}
    for head, config in fittings_config.items():
        fit_cls, fit_cfg = _component(FITTINGS, config, fitting_path(head), default="ener")
        fittings[head] = fit_cls(descriptor, ntypes, head, **fit_cfg)
    return Model(type_map, descriptor, fittings,
                 data_stat_protect=model_config.get("data_stat_protect", 1e-2))

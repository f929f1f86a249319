"""Per-head losses and their metrics (registry ``LOSSES``).

``LOSSES`` maps a ``loss.type`` (``"ener"``, ``"tensor"``) to its class.
:func:`make_loss` builds the loss of one head from its normalized section.
Importing this package does not import TensorFlow.
"""

from __future__ import annotations

from typing import Optional, Sequence

from deepmt.utils.plugin import Registry

LOSSES = Registry("loss")

from deepmt.loss.base import Loss  # noqa: E402  (registers after LOSSES exists)
from deepmt.loss import ener as _ener  # noqa: E402,F401
from deepmt.loss import tensor as _tensor  # noqa: E402,F401

EnerLoss = _ener.EnerLoss
TensorLoss = _tensor.TensorLoss


def make_loss(config: Optional[dict], fitting_kind: str, sel_type: Optional[Sequence[int]] = None,
              start_lr: float = 1e-3, where: str = "loss") -> Loss:
    """Build the loss of one head.

    Parameters
    ----------
    config
        Normalized loss section (``type`` defaults to ``"ener"`` for energy
        heads and ``"tensor"`` for dipole/polar heads); None means defaults.
    fitting_kind
        The head fitting's ``kind``.
    sel_type
        The fitting's selected types (tensor heads).
    start_lr
        The head's first learning rate.
    where
        Key path of the section, for error messages (``loss_dict/water``).

    Raises
    ------
    deepmt.errors.ConfigError
        Unknown loss type, a loss unsuited to the fitting, or bad keys.
    """
    from deepmt.errors import ConfigError

    params = dict(config or {})
    kind = params.pop("type", None) or ("ener" if fitting_kind == "ener" else "tensor")
    try:
        cls = LOSSES.get(kind)
    except KeyError as err:
        raise ConfigError(f"{where}/type: {err.args[0]}") from None
    if fitting_kind not in cls.fitting_kinds:
        hint = "ener" if fitting_kind == "ener" else "tensor"
        raise ConfigError(
            f"{where}/type: loss type {kind!r} cannot train a {fitting_kind!r} fitting "
            f"(it works with {', '.join(cls.fitting_kinds)} fittings); use {hint!r}."
        )
    try:
        loss = cls(fitting_kind=fitting_kind, sel_type=sel_type, start_lr=start_lr, **params)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    except TypeError as err:
        raise ConfigError(f"{where}: invalid key for loss type {kind!r}: {err}") from None
    return loss


__all__ = ["LOSSES", "Loss", "EnerLoss", "TensorLoss", "make_loss"]

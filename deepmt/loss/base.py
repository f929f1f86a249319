"""Common interface of the per-head losses.

A loss turns one head's predictions and label placeholders into a scalar
training loss plus per-batch metrics (RMSE-like scalars).  The trainer
creates the label placeholders from :meth:`Loss.label_requirements`
(``heads/<head>/t_<key>`` float64 ``[-1]`` and ``heads/<head>/t_find_<key>``
float64 scalar) and hands them to :meth:`Loss.build` as a dict
``{key: tensor, "find_<key>": tensor}``.

Metrics are evaluated per batch; a metric whose label is absent from the
batch (``find_<key> == 0``) is reported as NaN (:meth:`Loss.finalize`).
Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence, Tuple


class Loss:
    """Base class of the losses registered in ``deepmt.loss.LOSSES``.

    Parameters
    ----------
    fitting_kind
        ``kind`` of the head's fitting (``"ener"``, ``"dipole"``, ``"polar"``).
    sel_type
        Model types the fitting predicts for (tensor heads), or None.
    start_lr
        First learning rate of the head's schedule (the ener loss uses it to
        interpolate its prefactors).
    """

    #: fitting kinds this loss accepts
    fitting_kinds: Tuple[str, ...] = ()

    def __init__(self, fitting_kind: str, sel_type: Optional[Sequence[int]] = None,
                 start_lr: float = 1e-3):
        self.fitting_kind = fitting_kind
        self.sel_type = None if sel_type is None else [int(t) for t in sel_type]
        self.start_lr = float(start_lr)

    @classmethod
    def args(cls) -> list:
        """dargs arguments of this loss's section (without ``type``)."""
        raise NotImplementedError

    def label_requirements(self) -> list:
        """The :class:`deepmt.data.DataRequirement` items this loss reads."""
        raise NotImplementedError

    def metric_names(self) -> List[str]:
        """Metric names in ``lcurve.out`` column order."""
        raise NotImplementedError

    def metric_find_keys(self) -> Dict[str, Optional[str]]:
        """Metric name -> the ``find_<key>`` flag it depends on (or None)."""
        raise NotImplementedError

    def build(self, learning_rate, natoms, predictions: dict, labels: dict):
        """Build the loss graph.

        Parameters
        ----------
        learning_rate
            float64 scalar tensor, the head's learning rate at the step.
        natoms
            int32 ``[2 + ntypes]`` tensor ``[nloc, nall, n_0, ...]``.
        predictions
            The head's model outputs (``Model.build(...)[head]``).
        labels
            ``{key: float64 [-1], "find_<key>": float64 scalar}``.

        Returns
        -------
        tuple
            ``(loss, metrics)``: float64 scalar tensor and an ordered dict
            ``name -> float64 scalar tensor`` following :meth:`metric_names`.
        """
        raise NotImplementedError

    def batch_weight(self, natoms_vec: Sequence[int]) -> float:
        """Weight of one batch when averaging metrics over batches.

        The number of atoms of a frame (energy losses) or of selected atoms
        (tensor losses); ``natoms_vec`` is ``[nloc, nall, n_0, ...]``.
        """
        return float(natoms_vec[0])

    def finalize(self, values: Dict[str, float], batch: dict) -> Dict[str, float]:
        """Replace metrics whose label is absent from ``batch`` by NaN.

        Parameters
        ----------
        values
            Metric name -> value fetched for the batch.
        batch
            The batch dict (its ``find_<key>`` flags are read).
        """
        flags = self.metric_find_keys()
        out = {}
        for name, value in values.items():
            flag = flags.get(name)
            missing = flag is not None and float(batch.get(flag, 0.0)) == 0.0
            out[name] = math.nan if missing else float(value)
        return out


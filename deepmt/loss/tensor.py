"""Loss of dipole and polarizability heads (global and atomic labels).

With ``N_s`` the number of selected atoms (types in ``sel_type``) of a
frame and ``T_i`` the atomic tensor (3 or 9 numbers)::

    L = pref_atomic * find_atomic * <(T_i - T_i*)^2>
        + pref * find_global / N_s * <(sum_i T_i - T*)^2>

The first mean runs over ``nf * N_s * size`` numbers, the second over
``nf * size``.  The prefactors do not follow the learning rate.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from deepmt.loss import LOSSES
from deepmt.loss.base import Loss

#: fitting kind -> (global label key, atomic prediction, global prediction, size)
_KINDS = {
    "dipole": ("dipole", "dipole", "global_dipole", 3),
    "polar": ("polarizability", "polar", "global_polar", 9),
}


@LOSSES.register("tensor")
class TensorLoss(Loss):
    """Loss of a dipole or polarizability head.

    Parameters
    ----------
    fitting_kind
        ``"dipole"`` or ``"polar"``.
    sel_type
        Model types whose atoms carry the atomic tensor (sorted type ids).
    start_lr
        Unused (the prefactors are constant); kept for a uniform signature.
    pref
        Weight of the global (frame) tensor term, >= 0.
    pref_atomic
        Weight of the atomic tensor term, >= 0; not both may be 0.
    """

    fitting_kinds = ("dipole", "polar")

    def __init__(self, fitting_kind: str, sel_type: Optional[Sequence[int]] = None,
                 start_lr: float = 1e-3, pref: float = None, pref_atomic: float = None):
        super().__init__(fitting_kind, sel_type, start_lr)
        self._check_prefs(pref, pref_atomic)
        self.pref = float(pref)
        self.pref_atomic = float(pref_atomic)
        label, atomic_pred, global_pred, size = _KINDS.get(fitting_kind, _KINDS["dipole"])
        self.label = label
        self.atomic_label = f"atomic_{label}"
        self.atomic_prediction = atomic_pred
        self.global_prediction = global_pred
        self.size = size

    @staticmethod
    def _check_prefs(pref, pref_atomic) -> None:
        from deepmt.errors import ConfigError

        for key, value in (("pref", pref), ("pref_atomic", pref_atomic)):
            if value is None:
                raise ConfigError(
                    f"loss/{key} is required for a tensor loss (dipole/polar heads): "
                    "give both 'pref' (global label weight) and 'pref_atomic' "
                    "(atomic label weight)."
                )
            if float(value) < 0.0:
                raise ConfigError(f"loss/{key} must be >= 0, got {value}.")
        if float(pref) == 0.0 and float(pref_atomic) == 0.0:
            raise ConfigError("loss/pref and loss/pref_atomic are both 0: the tensor "
                              "loss would train nothing; make at least one positive.")

    @classmethod
    def args(cls) -> list:
        from dargs import Argument

        return [
            Argument("pref", [float, int], optional=False,
                     doc="Weight of the global tensor loss (dipole.npy or "
                         "polarizability.npy), divided by the number of selected atoms."),
            Argument("pref_atomic", [float, int], optional=False,
                     doc="Weight of the atomic tensor loss (atomic_dipole.npy or "
                         "atomic_polarizability.npy)."),
        ]

    def label_requirements(self) -> list:
        from deepmt.data.requirement import DataRequirement

        reqs = []
        if self.pref_atomic > 0.0:
            reqs.append(DataRequirement(self.atomic_label, self.size, atomic=True, must=False,
                                        type_sel=self.sel_type))
        if self.pref > 0.0:
            reqs.append(DataRequirement(self.label, self.size, atomic=False, must=False))
        return reqs

    def metric_names(self) -> List[str]:
        names = ["rmse"]
        if self.pref_atomic > 0.0:
            names.append("rmse_lc")
        if self.pref > 0.0:
            names.append("rmse_gl")
        return names

    def metric_find_keys(self) -> Dict[str, Optional[str]]:
        keys = {"rmse": None}
        if self.pref_atomic > 0.0:
            keys["rmse_lc"] = f"find_{self.atomic_label}"
        if self.pref > 0.0:
            keys["rmse_gl"] = f"find_{self.label}"
        return keys

    def _nsel(self, tf, natoms):
        """Selected atoms per frame as a float64 scalar tensor."""
        if self.sel_type is None:
            return tf.cast(natoms[0], tf.float64)
        counts = [natoms[2 + t] for t in self.sel_type]
        return tf.cast(tf.add_n(counts) if counts else 0, tf.float64)

    def build(self, learning_rate, natoms, predictions: dict, labels: dict):
        from deepmt.utils.tf_compat import get_tf

        tf = get_tf()
        f64 = tf.float64
        nsel = self._nsel(tf, natoms)
        loss = tf.constant(0.0, dtype=f64)
        metrics = {}
        if self.pref_atomic > 0.0:
            pred = tf.reshape(tf.cast(predictions[self.atomic_prediction], f64), [-1])
            label = tf.reshape(labels[self.atomic_label], [-1])
            local = tf.reduce_mean(tf.square(pred - label))
            loss = loss + self.pref_atomic * labels[f"find_{self.atomic_label}"] * local
            metrics["rmse_lc"] = tf.sqrt(local)
        if self.pref > 0.0:
            glob = self._global_mse(tf, predictions, labels)
            loss = loss + self.pref * labels[f"find_{self.label}"] * glob / nsel
            metrics["rmse_gl"] = tf.sqrt(glob) / nsel
        loss = tf.identity(loss, name="loss")
        metrics["rmse"] = tf.sqrt(loss)
        return loss, {name: metrics[name] for name in self.metric_names()}

    def _global_mse(self, tf, predictions: dict, labels: dict):
        """Mean square error of the frame tensor (``nf x size``)."""
        if self.global_prediction in predictions:
            pred = tf.cast(predictions[self.global_prediction], tf.float64)
        else:  # sum the atomic tensors of each frame
            atomic = tf.cast(predictions[self.atomic_prediction], tf.float64)
            nframes = tf.shape(atomic)[0]
            pred = tf.reduce_sum(tf.reshape(atomic, [nframes, -1, self.size]), axis=1)
        label = tf.reshape(labels[self.label], tf.shape(pred))
        return tf.reduce_mean(tf.square(pred - label))

    def batch_weight(self, natoms_vec) -> float:
        if self.sel_type is None:
            return float(natoms_vec[0])
        return float(sum(int(natoms_vec[2 + t]) for t in self.sel_type))

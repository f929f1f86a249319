"""Energy / force / virial loss with learning-rate-driven prefactors.

Prefactor of term ``x`` at a step::

    p_x = find_x * (limit_pref_x + (start_pref_x - limit_pref_x) * lr / start_lr)

and, with ``N`` the number of atoms of a frame::

    L = p_e/N * <dE^2> + p_f * <dF^2> + p_v/N * <dV^2> + p_ae * <dE_i^2>
        + p_pf * <q dF^2> + p_gf * <dF_gen^2>

(means over every element of the batch).  The energy and virial terms are
divided by N once, not N^2, as DeePMD-kit 2.2 does.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from deepmt.loss import LOSSES
from deepmt.loss.base import Loss

#: term -> (label key whose find flag gates it, metric name)
_TERMS = {
    "e": ("energy", "rmse_e"),
    "ae": ("atom_ener", "rmse_ae"),
    "f": ("force", "rmse_f"),
    "v": ("virial", "rmse_v"),
    "pf": ("atom_pref", "rmse_pf"),
    "gf": ("drdq", "rmse_gf"),
}
_DEFAULTS = {"e": (0.02, 1.0), "f": (1000.0, 1.0), "v": (0.0, 0.0),
             "ae": (0.0, 0.0), "pf": (0.0, 0.0), "gf": (0.0, 0.0)}
_DOCS = {"e": "energy", "f": "force", "v": "virial", "ae": "atomic energy",
         "pf": "atom-weighted (atom_pref) force", "gf": "generalized force"}


@LOSSES.register("ener")
class EnerLoss(Loss):
    """Loss of an energy head; see the module docstring for the formula.

    Parameters
    ----------
    fitting_kind, sel_type, start_lr
        See :class:`deepmt.loss.base.Loss`.
    start_pref_<x>, limit_pref_<x>
        Prefactors at step 0 and when the learning rate has decayed to 0,
        for ``x`` in ``e, f, v, ae, pf, gf``; a term exists when one of
        them is non-zero.
    relative_f
        If set to ``nu``, force errors are divided per atom by
        ``|F*_i| + nu`` (eV/Å) before both force terms.
    enable_atom_ener_coeff
        Energy becomes ``sum_i c_i E_i`` with ``c`` from ``atom_ener_coeff``.
    numb_generalized_coord
        Number of generalized coordinates of ``drdq`` (needed by ``gf``).
    """

    fitting_kinds = ("ener",)

    def __init__(self, fitting_kind: str = "ener", sel_type=None, start_lr: float = 1e-3,
                 relative_f: Optional[float] = None, enable_atom_ener_coeff: bool = False,
                 numb_generalized_coord: int = 0, **prefs):
        super().__init__(fitting_kind, sel_type, start_lr)
        self.pref = {}
        for term, (start, limit) in _DEFAULTS.items():
            self.pref[term] = (float(prefs.pop(f"start_pref_{term}", start)),
                               float(prefs.pop(f"limit_pref_{term}", limit)))
        if prefs:
            from deepmt.errors import ConfigError

            raise ConfigError(f"loss: unknown key(s) {sorted(prefs)} for the ener loss.")
        self.relative_f = relative_f
        self.enable_atom_ener_coeff = bool(enable_atom_ener_coeff)
        self.numb_generalized_coord = int(numb_generalized_coord)
        self.has = {term: any(v != 0.0 for v in pair) for term, pair in self.pref.items()}
        self._check_gf()

    def _check_gf(self) -> None:
        if self.has["gf"] and self.numb_generalized_coord < 1:
            from deepmt.errors import ConfigError

            raise ConfigError(
                "loss/numb_generalized_coord must be > 0 when start_pref_gf or "
                "limit_pref_gf is non-zero (the generalized-force term needs drdq.npy "
                "with numb_generalized_coord columns per atomic coordinate)."
            )

    @classmethod
    def args(cls) -> list:
        from dargs import Argument

        out = []
        for term, (start, limit) in _DEFAULTS.items():
            what = _DOCS[term]
            out.append(Argument(f"start_pref_{term}", [float, int], optional=True, default=start,
                                doc=f"Prefactor of the {what} loss at the start of training."))
            out.append(Argument(f"limit_pref_{term}", [float, int], optional=True, default=limit,
                                doc=f"Prefactor of the {what} loss when the learning rate "
                                    "reaches 0 (interpolated linearly in lr/start_lr)."))
        out += [
            Argument("relative_f", [float, None], optional=True, default=None,
                     doc="If set, the force error of each atom is divided by the norm of "
                         "its label force plus this value (eV/Å)."),
            Argument("enable_atom_ener_coeff", bool, optional=True, default=False,
                     doc="Energy is sum_i c_i E_i with c from atom_ener_coeff.npy "
                         "(default 1 per atom)."),
            Argument("numb_generalized_coord", int, optional=True, default=0,
                     doc="Number of generalized coordinates (columns of drdq.npy per "
                         "atomic coordinate); required by the gf terms."),
        ]
        return out

    def label_requirements(self) -> list:
        from deepmt.data.requirement import DataRequirement

        reqs = [DataRequirement("energy", 1, atomic=False, must=False, high_prec=True),
                DataRequirement("force", 3, atomic=True, must=False),
                DataRequirement("virial", 9, atomic=False, must=False),
                DataRequirement("atom_ener", 1, atomic=True, must=False),
                DataRequirement("atom_pref", 1, atomic=True, must=False, repeat=3)]
        if self.enable_atom_ener_coeff:
            reqs.append(DataRequirement("atom_ener_coeff", 1, atomic=True, must=False,
                                        default=1.0))
        if self.has["gf"]:
            reqs.append(DataRequirement("drdq", 3 * self.numb_generalized_coord,
                                        atomic=True, must=False))
        return reqs

    def metric_names(self) -> List[str]:
        return ["rmse"] + [_TERMS[t][1] for t in _TERMS if self.has[t]]

    def metric_find_keys(self) -> Dict[str, Optional[str]]:
        out = {"rmse": None}
        for term, (key, metric) in _TERMS.items():
            if self.has[term]:
                out[metric] = f"find_{key}"
        return out

    def _prefactor(self, term: str, learning_rate, find):
        start, limit = self.pref[term]
        ratio = learning_rate / self.start_lr
        return find * (limit + (start - limit) * ratio)

    def build(self, learning_rate, natoms, predictions: dict, labels: dict):
        from deepmt.utils.tf_compat import get_tf

        tf = get_tf()
        f64 = tf.float64
        natoms_f = tf.cast(natoms[0], f64)
        errors = self._mean_squares(tf, predictions, labels)
        loss = tf.constant(0.0, dtype=f64)
        for term, mse in errors.items():
            pref = self._prefactor(term, tf.cast(learning_rate, f64),
                                   tf.cast(labels[f"find_{_TERMS[term][0]}"], f64))
            scale = 1.0 / natoms_f if term in ("e", "v") else 1.0
            loss = loss + pref * scale * mse
        loss = tf.identity(loss, name="loss")
        metrics = {"rmse": tf.sqrt(loss)}
        for term, mse in errors.items():
            rmse = tf.sqrt(mse)
            metrics[_TERMS[term][1]] = rmse / natoms_f if term in ("e", "v") else rmse
        return loss, {name: metrics[name] for name in self.metric_names()}

    def _mean_squares(self, tf, predictions: dict, labels: dict) -> dict:
        """Mean squared error of every active term (float64 scalars)."""
        f64 = tf.float64
        out = {}
        if self.has["e"]:
            energy = self._energy(tf, predictions, labels)
            out["e"] = tf.reduce_mean(tf.square(energy - tf.reshape(labels["energy"], [-1])))
        diff_f = None
        if self.has["f"] or self.has["pf"] or self.has["gf"]:
            force = tf.reshape(tf.cast(predictions["force"], f64), [-1])
            diff_f = tf.reshape(labels["force"], [-1]) - force
        if self.has["f"] or self.has["pf"]:
            scaled = self._relative(tf, diff_f, labels["force"])
            if self.has["f"]:
                out["f"] = tf.reduce_mean(tf.square(scaled))
            if self.has["pf"]:
                pref = tf.reshape(labels["atom_pref"], [-1])
                out["pf"] = tf.reduce_mean(pref * tf.square(scaled))
        if self.has["v"]:
            virial = tf.reshape(tf.cast(predictions["virial"], f64), [-1])
            out["v"] = tf.reduce_mean(tf.square(tf.reshape(labels["virial"], [-1]) - virial))
        if self.has["ae"]:
            atom_e = tf.reshape(tf.cast(predictions["atom_energy"], f64), [-1])
            out["ae"] = tf.reduce_mean(tf.square(tf.reshape(labels["atom_ener"], [-1]) - atom_e))
        if self.has["gf"]:
            out["gf"] = self._generalized(tf, diff_f, labels["drdq"], predictions["energy"])
        order = ["e", "ae", "f", "v", "pf", "gf"]
        return {t: out[t] for t in order if t in out}

    def _energy(self, tf, predictions: dict, labels: dict):
        """Frame energies ``[nf]`` (coefficient-weighted when enabled)."""
        if not self.enable_atom_ener_coeff:
            return tf.reshape(tf.cast(predictions["energy"], tf.float64), [-1])
        atom_e = tf.cast(predictions["atom_energy"], tf.float64)  # nf x nloc
        coeff = tf.reshape(labels["atom_ener_coeff"], tf.shape(atom_e))
        return tf.reduce_sum(coeff * atom_e, axis=1)

    def _relative(self, tf, diff_f, force_label):
        """Divide each atom's force error by ``|F*_i| + relative_f``."""
        if self.relative_f is None:
            return diff_f
        norm = tf.norm(tf.reshape(force_label, [-1, 3]), axis=1, keepdims=True)
        scaled = tf.reshape(diff_f, [-1, 3]) / (norm + float(self.relative_f))
        return tf.reshape(scaled, [-1])

    def _generalized(self, tf, diff_f, drdq, energy):
        """Mean square of ``drdq^T dF`` per frame (``nf x ngen``)."""
        nframes = tf.shape(tf.reshape(energy, [-1]))[0]
        ngen = self.numb_generalized_coord
        # drdq per frame: 3*nat x ngen; dF per frame: 3*nat
        drdq = tf.reshape(drdq, [nframes, -1, ngen])
        diff = tf.reshape(diff_f, [nframes, -1, 1])
        gen = tf.reduce_sum(drdq * diff, axis=1)
        return tf.reduce_mean(tf.square(gen))

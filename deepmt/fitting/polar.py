"""Polarizability fitting: ``alpha_i = s_t Q_i^T B_i Q_i + c_t I``.

``B_i = diag(a_i)`` (``fit_diag``, net width ``M1``) or ``A_i + A_i^T`` (net
width ``M1^2``). The scale ``s_t`` and diagonal shift ``c_t`` are indexed by
TYPE ID (DeePMD-kit 2.2.11 indexed them by the position inside ``sel_type``,
which differs unless ``sel_type`` starts at 0 and is contiguous). ``c_t`` comes
from the statistics (``shift_diag``) and is stored as the non-trainable
variable ``heads/<head>/fitting_attr/t_constant_matrix``.
"""

from __future__ import annotations

import numpy as np

from deepmt.errors import ConfigError
from deepmt.fitting.base import Fitting, net_args, seed_arg, sel_type_arg
from deepmt.fitting.tensor import TensorFitting
from deepmt.utils.network import non_trainable_variable
from deepmt.utils.tf_compat import get_tf


@Fitting.register("polar")
class PolarFitting(TensorFitting):
    """Atomic polarizabilities of the ``sel_type`` atoms (``nf x nsel*9``)."""

    kind = "polar"
    output_dim = 9

    @classmethod
    def args(cls) -> list:
        from dargs import Argument

        return net_args(True) + [
            Argument("fit_diag", bool, optional=True, default=True,
                     doc="Fit a diagonal matrix B_i (net width M1) instead of a symmetric "
                         "one (width M1*M1)."),
            Argument("scale", [float, list[float]], optional=True, default=1.0,
                     doc="Factor applied to the fitted tensor: one value, or one per type "
                         "(indexed by type id)."),
            Argument("shift_diag", bool, optional=True, default=True,
                     doc="Add a per-type constant to the diagonal, from the statistics."),
            sel_type_arg("pol_type"),
            seed_arg(),
        ]

    def __init__(self, descriptor, ntypes: int, head: str, **config):
        super().__init__(descriptor, ntypes, head, **config)
        self.fit_diag = bool(self.config["fit_diag"])
        self.shift_diag = bool(self.config["shift_diag"])
        scale = self.config["scale"]
        if isinstance(scale, (int, float)):
            scale = [float(scale)] * ntypes
        if len(scale) != ntypes:
            raise ConfigError(f"{self.path}/scale: give one value or one per type "
                              f"({ntypes}), got {len(scale)}.")
        self.scale = np.array(scale, dtype=np.float64)
        self.constant_matrix = np.zeros(ntypes)

    def compute_output_stats(self, sample: list, protect: float = 1e-2) -> None:
        """Diagonal shift per selected type (zero without ``shift_diag``).

        Parameters
        ----------
        sample
            This head's stat sample: one list of batches per system.
        """
        if not self.shift_diag:
            self.constant_matrix = np.zeros(self.ntypes)
            return
        from deepmt.data import stat

        shift = stat.polar_diag_shift(sample, self.ntypes, self.sel_type)
        self.constant_matrix = np.asarray(shift, dtype=np.float64).reshape(self.ntypes)

    def _build_stat_vars(self) -> None:
        tf = get_tf()
        with tf.variable_scope("fitting_attr"):
            self._shift = non_trainable_variable("t_constant_matrix", self.constant_matrix,
                                                 tf.float64)
        tf.constant(self.scale, dtype=tf.float64, name="fitting_attr/scale")

    def _net_width(self) -> int:
        m1 = self.dim_rot_mat_1
        return m1 if self.fit_diag else m1 * m1

    def _atom_tensor(self, coef, rot, t: int):
        tf = get_tf()
        m1 = self.dim_rot_mat_1
        if self.fit_diag:
            b_rot = tf.expand_dims(coef, 2) * rot  # diag(a) Q: m x M1 x 3
        else:
            a_mat = tf.reshape(coef, [-1, m1, m1])
            b_rot = tf.matmul(a_mat + tf.transpose(a_mat, [0, 2, 1]), rot)
        alpha = tf.matmul(rot, b_rot, transpose_a=True) * self.scale[t]  # m x 3 x 3
        shift = tf.cast(self._shift[t], alpha.dtype) * tf.eye(3, dtype=alpha.dtype)
        return tf.reshape(alpha + shift, [-1, 9])

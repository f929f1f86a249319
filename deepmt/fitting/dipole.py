"""Dipole fitting: ``mu_i = a_i^T Q_i`` with ``a_i = F_t(D_i)`` of width ``M1``."""

from __future__ import annotations

from deepmt.fitting.base import Fitting, net_args, seed_arg, sel_type_arg
from deepmt.fitting.tensor import TensorFitting
from deepmt.utils.tf_compat import get_tf


@Fitting.register("dipole")
class DipoleFitting(TensorFitting):
    """Atomic dipoles of the ``sel_type`` atoms (``nf x nsel*3``)."""

    kind = "dipole"
    output_dim = 3

    @classmethod
    def args(cls) -> list:
        return net_args(True) + [sel_type_arg("dipole_type"), seed_arg()]

    def _atom_tensor(self, coef, rot, t: int):
        tf = get_tf()
        # (m x 1 x M1) (m x M1 x 3) -> m x 3
        return tf.reshape(tf.matmul(tf.expand_dims(coef, 1), rot), [-1, 3])

"""se_e2_a: two-body embedding descriptor with the full (radial + angular) env matrix.

For centre ``i`` with normalized environment ``R_i`` (``N x 4``) and embedding
``G_i`` (``N x M1``, net applied to the radial column):
``T_i = R_i^T G_i / N`` (``4 x M1``, ``N = sum(sel)``), descriptor
``D_i = T_i^T T_i[:, :M2]`` flattened to ``M1*M2``; rotation matrix
``Q_i = T_i[1:4]^T`` (``M1 x 3``) used by dipole/polar heads.
"""

from __future__ import annotations

from typing import List

import numpy as np

from deepmt import keys
from deepmt.descriptor.base import Descriptor
from deepmt.descriptor.se import DescrptSe, common_args, common_tail_args
from deepmt.errors import ConfigError
from deepmt.utils.tf_compat import get_tf


@Descriptor.register("se_e2_a", alias=("se_a",))
class DescrptSeA(DescrptSe):
    """Smooth edition, two-body embedding, full env matrix (DeePMD-kit se_e2_a)."""

    ncomp = 4

    @classmethod
    def args(cls) -> list:
        from dargs import Argument

        return common_args("Widths of the embedding-net layers (M1 = last width).") + [
            Argument("axis_neuron", int, optional=True, default=4, alias=["n_axis_neuron"],
                     doc="Number of embedding columns M2 (<= M1) multiplied with all M1 "
                         "columns to form the descriptor (size M1*M2)."),
        ] + common_tail_args()

    def __init__(self, ntypes: int, **config):
        super().__init__(ntypes, **config)
        self.axis_neuron = int(self.config["axis_neuron"])
        if not 0 < self.axis_neuron <= self.neuron[-1]:
            raise ConfigError(
                f"{self.path}/axis_neuron must be in [1, neuron[-1]={self.neuron[-1]}], got "
                f"{self.axis_neuron}."
            )
        self._rot_mat = None
        self._t_matrix = None

    def get_dim_out(self) -> int:
        return self.neuron[-1] * self.axis_neuron

    def get_dim_rot_mat_1(self) -> int:
        return self.neuron[-1]

    def _stats_from_sums(self, sums: np.ndarray):
        davg = np.zeros([self.ntypes, self.nnei, 4])
        dstd = np.ones([self.ntypes, self.nnei, 4])
        for t, (n, s_r, s_r2, s_a, s_a2) in enumerate(sums):
            davg[t, :, 0] = s_r / (n + 1e-15)
            dstd[t, :, 0] = self._sigma(s_r2, s_r, n)
            dstd[t, :, 1:] = self._sigma(s_a2, s_a, n)
        return davg.reshape(self.ntypes, -1), dstd.reshape(self.ntypes, -1)

    def _contract(self, sub, g):
        tf = get_tf()
        # (m x sel_j x 4)^T (m x sel_j x M1) -> m x 4 x M1
        return tf.matmul(sub, g, transpose_a=True)

    def _feature_shape(self) -> List[int]:
        return [4, self.neuron[-1]]

    def _finish(self, merged):
        tf = get_tf()
        # merged: nf*nloc x 4 x M1
        t_mat = merged / float(self.nnei)
        self._t_matrix = t_mat
        self._rot_mat = None
        d = tf.matmul(t_mat, t_mat[:, :, :self.axis_neuron], transpose_a=True)  # .. x M1 x M2
        return tf.reshape(d, [-1, self.get_dim_out()])

    def get_rot_mat(self):
        """Rotation matrix ``Q``, float64 ``nf*nloc x 3*M1`` (row-major ``M1 x 3``).

        Built on first call only (energy-only models never create it).
        """
        tf = get_tf()
        if self._t_matrix is None:
            raise RuntimeError("get_rot_mat() called before build()")
        if self._rot_mat is None:
            q = tf.transpose(self._t_matrix[:, 1:4, :], [0, 2, 1])  # .. x M1 x 3
            q = tf.reshape(tf.cast(q, tf.float64), [-1, 3 * self.neuron[-1]])
            self._rot_mat = tf.identity(q, name=keys.O_ROT_MAT)
        return self._rot_mat

"""se_e2_r: two-body embedding descriptor on the radial env matrix only.

``D_i = (1/5) (1/N) sum_j G_ij`` over all ``N = sum(sel)`` slots (empty slots
included), ``G_ij`` = embedding of the normalized ``s(r_ij)``. The factor 1/5
is DeePMD-kit's. There is no rotation matrix, so dipole/polar heads cannot use
this descriptor.
"""

from __future__ import annotations

from typing import List

import numpy as np

from deepmt.descriptor.base import Descriptor
from deepmt.descriptor.se import DescrptSe, common_args, common_tail_args
from deepmt.utils.tf_compat import get_tf


@Descriptor.register("se_e2_r", alias=("se_r",))
class DescrptSeR(DescrptSe):
    """Smooth edition, two-body embedding, radial env matrix only."""

    ncomp = 1

    @classmethod
    def args(cls) -> list:
        return (common_args("Widths of the embedding-net layers (descriptor size = last "
                            "width).") + common_tail_args())

    def get_dim_out(self) -> int:
        return self.neuron[-1]

    def _stats_from_sums(self, sums: np.ndarray):
        davg = np.zeros([self.ntypes, self.nnei])
        dstd = np.ones([self.ntypes, self.nnei])
        for t, (n, s_r, s_r2, _, _) in enumerate(sums):
            davg[t] = s_r / n if n > 0 else 0.0
            dstd[t] = self._sigma(s_r2, s_r, n)
        return davg, dstd

    def _contract(self, sub, g):
        tf = get_tf()
        return tf.reduce_sum(g, axis=1)  # m x M

    def _feature_shape(self) -> List[int]:
        return [self.neuron[-1]]

    def _finish(self, merged):
        return merged * (1.0 / (5.0 * self.nnei))

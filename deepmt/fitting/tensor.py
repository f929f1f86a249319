"""Common part of the tensor fittings (dipole, polarizability).

For each atom ``i`` of a selected type ``t`` (``sel_type``), a type-``t`` net
maps the descriptor ``D_i`` to coefficients that are contracted with the
descriptor's rotation matrix ``Q_i`` (``M1 x 3``). The atomic output of the
selected atoms is ``nf x nsel*odim`` in type-sorted atom order.
"""

from __future__ import annotations

from deepmt.errors import ConfigError
from deepmt.fitting.base import Fitting, normalize_sel_type, type_block
from deepmt.utils.tf_compat import get_tf


class TensorFitting(Fitting):
    """Base of dipole/polar fittings: sel_type, rotation matrix, per-type loop."""

    def __init__(self, descriptor, ntypes: int, head: str, **config):
        super().__init__(descriptor, ntypes, head, **config)
        self.sel_type = normalize_sel_type(self.config["sel_type"], ntypes, self.path)
        self.dim_rot_mat_1 = descriptor.get_dim_rot_mat_1()
        if self.dim_rot_mat_1 <= 0:
            name = getattr(descriptor, "registered_name", type(descriptor).__name__)
            raise ConfigError(
                f"head {head!r} ({self.path}) is a {self.kind} fitting, which needs the "
                f"descriptor's rotation matrix, but descriptor {name!r} has none; use "
                "se_e2_a for dipole/polar heads."
            )

    def get_sel_type(self):
        return list(self.sel_type)

    def _atom_tensor(self, coef, rot, t: int):
        """Atomic tensors of one type block.

        Parameters
        ----------
        coef
            Net output ``m x width``.
        rot
            Rotation matrices ``m x M1 x 3``.
        t
            Atom type.

        Returns
        -------
        ``m x odim`` in the net precision.
        """
        raise NotImplementedError

    def _net_width(self) -> int:
        return self.dim_rot_mat_1

    def build(self, descriptor, natoms, rot_mat=None, fparam=None, aparam=None):
        """Atomic tensors of the selected atoms.

        Parameters
        ----------
        descriptor
            float64 ``nf*nloc x dim_descrpt``.
        natoms
            int32 ``[2 + ntypes]``.
        rot_mat
            float64 ``nf*nloc x 3*M1`` (the descriptor's :meth:`get_rot_mat`).

        Returns
        -------
        float64 ``nf x nsel*odim``.
        """
        tf = get_tf()
        if rot_mat is None:
            raise ConfigError(f"{self.path}: a {self.kind} head needs the rotation matrix.")
        self.build_attrs()
        self._build_stat_vars()
        prec = self.precision()
        m1 = self.dim_rot_mat_1
        x = tf.reshape(tf.cast(descriptor, prec), [-1, natoms[0], self.dim_descrpt])
        rot = tf.reshape(tf.cast(rot_mat, prec), [-1, natoms[0], m1, 3])
        nf = tf.shape(x)[0]
        blocks = []
        for t in self.sel_type:
            start, count = type_block(natoms, t)
            xt = tf.reshape(x[:, start:start + count], [-1, self.dim_descrpt])
            rt = tf.reshape(rot[:, start:start + count], [-1, m1, 3])
            coef = self.type_net(xt, t, self._net_width())
            out = self._atom_tensor(coef, rt, t)  # m x odim
            blocks.append(tf.reshape(tf.cast(out, tf.float64), [nf, -1]))
        return tf.concat(blocks, axis=1)

    def _build_stat_vars(self) -> None:
        """Create the head's non-trainable statistics variables (default: none)."""

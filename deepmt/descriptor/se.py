"""Machinery shared by the two-body embedding descriptors se_e2_a and se_e2_r.

Both run one environment-matrix op (``DmtEnvMatA``/``DmtEnvMatR``), apply one
embedding net per (centre type, neighbour type) pair — or per neighbour type
with ``type_one_side`` — to the normalized radial entry of every slot, and
reduce over the ``N = sum(sel)`` slots. Atoms are sorted by type, so a centre
type is a contiguous block of local atoms.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

from deepmt import keys
from deepmt.descriptor.base import (Descriptor, check_int_list, check_type_pairs,
                                    resolve_config)
from deepmt.errors import ConfigError, DataError
from deepmt.utils.network import (ACTIVATION_NAMES, PRECISION_NAMES, check_choice,
                                  embedding_net, get_precision, non_trainable_variable)
from deepmt.utils.tf_compat import get_tf

#: hard-coded floor of the environment-matrix standard deviations
STD_FLOOR = 1e-2


def common_args(doc_neuron: str) -> list:
    """dargs arguments common to se_e2_a and se_e2_r."""
    from dargs import Argument

    return [
        Argument("sel", [list[int], str], optional=True, default="auto",
                 doc="Maximum number of neighbours of each type within rcut (list, one "
                     "entry per type), or 'auto' / 'auto:f' to take the observed maximum "
                     "times f (default 1.1) rounded up to a multiple of 4."),
        Argument("rcut", float, optional=True, default=6.0, doc="Cut-off radius (Angstrom)."),
        Argument("rcut_smth", float, optional=True, default=0.5,
                 doc="Where the smooth switching to zero starts (Angstrom); <= rcut."),
        Argument("neuron", list[int], optional=True, default=[10, 20, 40], doc=doc_neuron),
    ]


def common_tail_args() -> list:
    """The keys after the embedding-net widths (shared by se_e2_a and se_e2_r)."""
    from dargs import Argument

    return [
        Argument("activation_function", str, optional=True, default="tanh",
                 doc="Activation of the embedding nets: " + ", ".join(ACTIVATION_NAMES[:-1])
                 + "."),
        Argument("resnet_dt", bool, optional=True, default=False,
                 doc="Scale the skip connections of the embedding nets by a trainable "
                     "per-feature timestep."),
        Argument("type_one_side", bool, optional=True, default=False,
                 doc="One embedding net per neighbour type (shared by all centre types) "
                     "instead of one per (centre type, neighbour type) pair."),
        Argument("precision", str, optional=True, default="default",
                 doc="Float precision of the embedding nets: "
                     + ", ".join(PRECISION_NAMES) + " ('default' = float64)."),
        Argument("trainable", bool, optional=True, default=True,
                 doc="Whether the embedding-net parameters are trained."),
        Argument("seed", [int, None], optional=True, default=None,
                 doc="Random seed of the initial parameters (null: random)."),
        Argument("exclude_types", list[list[int]], optional=True, default=[],
                 doc="Pairs of types [ti, tj] that do not interact (symmetric)."),
        Argument("set_davg_zero", bool, optional=True, default=False,
                 doc="Keep the normalization mean of the environment matrix at zero "
                     "(required by the fitting key atom_ener)."),
    ]


class DescrptSe(Descriptor):
    """Base class of se_e2_a / se_e2_r (shared config, statistics and graph)."""

    #: components per neighbour slot (4 for se_e2_a, 1 for se_e2_r)
    ncomp = 4
    path = "model/descriptor"

    def __init__(self, ntypes: int, **config):
        super().__init__(ntypes)
        cfg = resolve_config(self.args(), config, self.path)
        self.config = cfg
        sel = cfg["sel"]
        if isinstance(sel, str):
            raise ConfigError(
                f"{self.path}/sel is {sel!r}: an automatic sel must be resolved by the "
                "neighbour statistics before the model is built (do not use "
                "--skip-neighbor-stat with sel 'auto', or give sel as a list)."
            )
        self.sel = check_int_list(sel, ntypes, f"{self.path}/sel")
        if sum(self.sel) == 0:
            raise ConfigError(f"{self.path}/sel: at least one neighbour slot is needed.")
        self.rcut, self.rcut_smth = float(cfg["rcut"]), float(cfg["rcut_smth"])
        if not self.rcut > 0 or not 0 <= self.rcut_smth <= self.rcut:
            raise ConfigError(
                f"{self.path}: need 0 <= rcut_smth <= rcut and rcut > 0, got rcut "
                f"{self.rcut} and rcut_smth {self.rcut_smth}."
            )
        self.neuron = [int(n) for n in cfg["neuron"]]
        if not self.neuron or min(self.neuron) <= 0:
            raise ConfigError(f"{self.path}/neuron: need positive widths, got {self.neuron}.")
        self.activation = check_choice(cfg["activation_function"], ACTIVATION_NAMES,
                                       f"{self.path}/activation_function")
        self.precision_name = check_choice(cfg["precision"], PRECISION_NAMES,
                                           f"{self.path}/precision")
        self.resnet_dt = bool(cfg["resnet_dt"])
        self.type_one_side = bool(cfg["type_one_side"])
        self.trainable = bool(cfg["trainable"])
        self.seed = cfg["seed"]
        self.exclude = check_type_pairs(cfg["exclude_types"], ntypes,
                                        f"{self.path}/exclude_types")
        self.set_davg_zero = bool(cfg["set_davg_zero"])
        self.nnei = sum(self.sel)
        self.ndescrpt = self.nnei * self.ncomp
        self.davg = np.zeros([ntypes, self.ndescrpt])
        self.dstd = np.ones([ntypes, self.ndescrpt])
        self._env = None

    # --- static information -------------------------------------------
    def get_rcut(self) -> float:
        return self.rcut

    def get_sel(self) -> List[int]:
        return list(self.sel)

    def get_config(self) -> Dict[str, Any]:
        return {"type": self.registered_name, **self.config}

    def _slot_offsets(self) -> List[int]:
        return [int(v) for v in np.cumsum([0] + self.sel)]

    # --- statistics ------------------------------------------------------
    def _raw_env(self, batch: dict) -> np.ndarray:
        """Raw (davg=0, dstd=1) env matrix of a batch, ``nf x nloc x N x ncomp``."""
        import deepmt.op as op

        func = op.env_mat_a if self.ncomp == 4 else op.env_mat_r
        coord = np.asarray(batch["coord"], dtype=np.float64)
        nf = coord.shape[0]
        box = np.asarray(batch["box"], dtype=np.float64).reshape(nf, 9) if batch.get(
            "pbc", True) else None
        res = func(coord, np.asarray(batch["type"]), box, rcut=self.rcut,
                   rcut_smth=self.rcut_smth, sel=self.sel)
        return np.asarray(res["descrpt"]).reshape(nf, -1, self.nnei, self.ncomp)

    def _zero_excluded(self, env: np.ndarray, centre_type: np.ndarray) -> np.ndarray:
        """Zero the slots of excluded (centre, neighbour) type pairs (stats only)."""
        if not self.exclude:
            return env
        env = env.copy()
        off = self._slot_offsets()
        for ti, tj in self.exclude:
            env[..., off[tj]:off[tj + 1], :][centre_type == ti] = 0.0
        return env

    def compute_input_stats(self, frames: list) -> None:
        """Set :attr:`davg`, :attr:`dstd` (``ntypes x ndescrpt``) from stat frames.

        Every (centre, slot) pair of every frame counts, empty slots included
        (they contribute zeros); the raw matrix comes from the op run with
        davg=0, dstd=1. Frames of all heads should be passed together.

        Parameters
        ----------
        frames
            Batches (dicts with ``coord``, ``box``, ``type``, ``pbc``).
        """
        sums = np.zeros([self.ntypes, 5])  # n, S_r, S_r2, S_a, S_a2
        for idx, batch in enumerate(frames):
            try:
                env = self._raw_env(batch)
            except KeyError as err:
                raise DataError(f"statistics batch {idx} lacks the key {err}.") from None
            nloc = env.shape[1]
            centre = np.asarray(batch["type"]).reshape(env.shape[0], -1)[:, :nloc]
            env = self._zero_excluded(env, centre)
            for t in range(self.ntypes):
                rows = env[centre == t]  # m x N x ncomp
                ang = rows[..., 1:]
                sums[t] += [rows.shape[0] * self.nnei, rows[..., 0].sum(),
                            np.square(rows[..., 0]).sum(), ang.sum() / 3.0,
                            np.square(ang).sum() / 3.0]
        self.davg, self.dstd = self._stats_from_sums(sums)
        if self.set_davg_zero:
            self.davg = np.zeros_like(self.davg)

    def _sigma(self, s2: float, s1: float, n: float) -> float:
        if n == 0:
            return 1.0 / self.rcut
        var = max(s2 / n - (s1 / n) ** 2, 0.0)
        return max(np.sqrt(var), STD_FLOOR)

    def _stats_from_sums(self, sums: np.ndarray):
        raise NotImplementedError

    # --- graph ----------------------------------------------------------
    def _build_attrs(self):
        """Shared ``descrpt_attr/*`` constants and the davg/dstd variables."""
        tf = get_tf()
        tf.constant(self.rcut, dtype=tf.float64, name=keys.DESCRPT_RCUT)
        tf.constant(self.ntypes, dtype=tf.int32, name=keys.DESCRPT_NTYPES)
        tf.constant(self.sel, dtype=tf.int32, name=keys.DESCRPT_SEL)
        tf.constant(self.ndescrpt, dtype=tf.int32, name="descrpt_attr/ndescrpt")
        with tf.variable_scope("descrpt_attr"):
            t_avg = non_trainable_variable("t_avg", self.davg, tf.float64)
            t_std = non_trainable_variable("t_std", self.dstd, tf.float64)
        return t_avg, t_std

    def build(self, coord, atype, natoms, box, mesh):
        """Environment op + embedding nets.

        Parameters
        ----------
        coord
            float64 ``[nf * nall * 3]`` (flat placeholder) or ``nf x nall*3``.
        atype
            int32 ``[nf * nall]`` or ``nf x nall``.
        natoms
            int32 ``[2 + ntypes]``.
        box
            float64 ``[nf * 9]`` or ``nf x 9``.
        mesh
            int32 ``[L]`` (0: no PBC, 6: PBC, >16: serialized neighbour list).

        Returns
        -------
        float64 ``nf*nloc x dim_out``.
        """
        tf = get_tf()
        from deepmt.op import graph as op_graph

        t_avg, t_std = self._build_attrs()
        coord = tf.reshape(coord, [-1, natoms[1] * 3])
        atype = tf.reshape(atype, [-1, natoms[1]])
        box = tf.reshape(box, [-1, 9])
        func = op_graph.env_mat_a if self.ncomp == 4 else op_graph.env_mat_r
        descrpt, deriv, rij, nlist, max_nnei = func(
            coord, atype, natoms, box, mesh, t_avg, t_std,
            rcut=self.rcut, rcut_smth=self.rcut_smth, sel=self.sel)
        self._env = {
            "descrpt": tf.identity(descrpt, name=keys.O_RMAT),
            "deriv": tf.identity(deriv, name=keys.O_RMAT_DERIV),
            "rij": tf.identity(rij, name=keys.O_RIJ),
            "nlist": tf.identity(nlist, name=keys.O_NLIST),
            "max_nnei": tf.identity(max_nnei, name=keys.O_MAX_NNEI),
        }
        # nf*nloc x ndescrpt: the tensor forces are differentiated against
        self._env_input = tf.reshape(self._env["descrpt"], [-1, self.ndescrpt])
        return self.build_from_env(self._env_input, natoms)

    def build_from_env(self, env, natoms):
        """Embedding nets and reduction on a normalized env matrix.

        Parameters
        ----------
        env
            float64 ``nf*nloc x N*ncomp`` (normalized environment matrix).
        natoms
            int32 ``[2 + ntypes]``.

        Returns
        -------
        float64 ``nf*nloc x dim_out``.
        """
        tf = get_tf()
        prec = get_precision(self.precision_name)
        # nf x nloc x N x ncomp
        x = tf.reshape(tf.cast(env, prec), [-1, natoms[0], self.nnei, self.ncomp])
        nf = tf.shape(x)[0]
        feats = []
        if self.type_one_side and not self.exclude:
            feats.append(self._embed_group(tf.reshape(x, [-1, self.nnei, self.ncomp]), None))
        else:
            # tf.split rather than slicing: its gradient is one concat, where
            # each slice's gradient would pad to the full size and be summed
            blocks = tf.split(x, natoms[2:2 + self.ntypes], axis=1, num=self.ntypes)
            for ti, block in enumerate(blocks):
                feat = self._embed_group(tf.reshape(block, [-1, self.nnei, self.ncomp]), ti)
                # nf x n_ti x feature...
                feats.append(tf.reshape(feat, tf.concat([[nf, -1], tf.shape(feat)[1:]], 0)))
        if len(feats) > 1:
            merged = tf.concat(feats, axis=1)
            merged = tf.reshape(merged, tf.concat([[-1], tf.shape(merged)[2:]], 0))
        else:
            merged = feats[0]
        return tf.cast(self._finish(merged), tf.float64)

    def _embed_group(self, block, ti: Optional[int]):
        """Sum of per-neighbour-type contributions for a group of centres.

        ``block`` is ``m x N x ncomp`` in the net precision; ``ti`` is the
        centre type of the group (``None``: all centres, ``type_one_side``).
        """
        tf = get_tf()
        subs = tf.split(block, self.sel, axis=1)  # m x sel_j x ncomp each
        total = None
        for tj, sub in enumerate(subs):
            if self.sel[tj] == 0 or (ti is not None and (ti, tj) in self.exclude):
                continue
            radial = tf.reshape(sub[:, :, :1], [-1, 1])
            g = self._embedding(radial, ti, tj)  # m*sel_j x M
            g = tf.reshape(g, [-1, self.sel[tj], self.neuron[-1]])
            part = self._contract(sub, g)
            total = part if total is None else total + part
        if total is None:  # every neighbour type excluded for this centre type
            m = tf.shape(block)[0]
            total = tf.zeros(tf.concat([[m], self._feature_shape()], 0), dtype=block.dtype)
        return total

    def _embedding(self, radial, ti: Optional[int], tj: int):
        tf = get_tf()
        scope = "filter_type_all" if self.type_one_side else f"filter_type_{ti}"
        with tf.variable_scope(scope, reuse=tf.AUTO_REUSE):
            return embedding_net(
                radial, self.neuron, precision=radial.dtype, activation=self.activation,
                resnet_dt=self.resnet_dt, name_suffix=f"_{tj}", seed=self.seed,
                trainable=self.trainable)

    def _contract(self, sub, g):
        raise NotImplementedError

    def _feature_shape(self) -> List[int]:
        raise NotImplementedError

    def _finish(self, merged):
        raise NotImplementedError

    def prod_force_virial(self, atom_output, natoms):
        """Forces and virials of ``sum(atom_output)`` through the env matrix.

        Parameters
        ----------
        atom_output
            Any tensor built from this descriptor's output (e.g. ``nf x nloc``
            atomic energies); its sum is differentiated.
        natoms
            int32 ``[2 + ntypes]``.

        Returns
        -------
        force ``nf x nall*3``, virial ``nf x 9``, atom_virial ``nf x nall*9``
        (float64).
        """
        tf = get_tf()
        from deepmt.op import graph as op_graph

        if self._env is None:
            raise RuntimeError("prod_force_virial() called before build()")
        net_deriv = tf.gradients(atom_output, self._env_input)[0]
        if net_deriv is None:
            net_deriv = tf.zeros_like(self._env_input)
        net_deriv = tf.reshape(net_deriv, [-1, natoms[0] * self.ndescrpt])
        env = self._env
        force = op_graph.prod_force(net_deriv, env["deriv"], env["nlist"], natoms)
        virial, atom_virial = op_graph.prod_virial(net_deriv, env["deriv"], env["rij"],
                                                   env["nlist"], natoms)
        return force, virial, atom_virial

"""Energy fitting: ``E_i = F_t(D_i, fparam, aparam) + b_t``, ``E = sum_i E_i``.

``b_t`` is the per-type energy bias from the statistics, a non-trainable
variable ``heads/<head>/fitting_attr/t_bias_atom_e`` added after the net.
With ``atom_ener[t] = e``: ``E_i = F_t(D_i, ...) - F_t(0, ...) + e`` so an
isolated atom (``D = 0`` with ``set_davg_zero``) has energy exactly ``e``.
"""

from __future__ import annotations

import logging
from typing import List, Optional

import numpy as np

from deepmt.errors import ConfigError
from deepmt.fitting.base import Fitting, net_args, seed_arg, type_block
from deepmt.utils.network import non_trainable_variable
from deepmt.utils.tf_compat import get_tf

log = logging.getLogger(__name__)


@Fitting.register("ener")
class EnerFitting(Fitting):
    """Per-type energy net with energy bias, fparam/aparam and atom_ener."""

    kind = "ener"
    output_dim = 1

    @classmethod
    def args(cls) -> list:
        from dargs import Argument

        return [
            Argument("numb_fparam", int, optional=True, default=0,
                     doc="Number of frame parameters (fparam.npy) fed to the net."),
            Argument("numb_aparam", int, optional=True, default=0,
                     doc="Number of atomic parameters (aparam.npy) fed to the net."),
        ] + net_args(True) + [
            Argument("trainable", [bool, list[bool]], optional=True, default=True,
                     doc="Whether the parameters are trained: one bool, or one per layer "
                         "(len(neuron) hidden layers, then the output layer)."),
            Argument("rcond", [float, None], optional=True, default=None,
                     doc="Cut-off ratio of small singular values in the least-squares "
                         "energy-bias fit (numpy.linalg.lstsq)."),
            seed_arg(),
            Argument("atom_ener", list[Optional[float]], optional=True, default=[],
                     doc="Energy of an isolated atom of each type (null: not fixed). A "
                         "fixed type's net output at zero descriptor is subtracted and its "
                         "bias set to this value; use with set_davg_zero."),
            Argument("layer_name", [list[Optional[str]], None], optional=True, default=None,
                     doc="One name (or null) per layer (hidden layers, then the output "
                         "layer): layers of different heads with the same name share "
                         "their parameters, so they must have the same input and output "
                         "widths, activation_function, precision, resnet_dt timestep and "
                         "trainable flag; the energy bias stays per head."),
            Argument("use_aparam_as_mask", bool, optional=True, default=False,
                     doc="Not supported by deepmt (must be false)."),
        ]

    def __init__(self, descriptor, ntypes: int, head: str, **config):
        super().__init__(descriptor, ntypes, head, **config)
        cfg, path, nlayer = self.config, self.path, len(self.neuron) + 1
        self.numb_fparam = self._non_negative(cfg["numb_fparam"], "numb_fparam")
        self.numb_aparam = self._non_negative(cfg["numb_aparam"], "numb_aparam")
        trainable = cfg["trainable"]
        if isinstance(trainable, bool):
            self.trainable = [trainable] * nlayer
        elif len(trainable) != nlayer:
            raise ConfigError(f"{path}/trainable: expected {nlayer} booleans "
                              f"(len(neuron) + 1), got {len(trainable)}.")
        else:
            self.trainable = [bool(v) for v in trainable]
        if cfg["layer_name"] is not None:
            if len(cfg["layer_name"]) != nlayer:
                raise ConfigError(f"{path}/layer_name: expected {nlayer} entries "
                                  f"(len(neuron) + 1), got {len(cfg['layer_name'])}.")
            self.layer_name = list(cfg["layer_name"])
        self.atom_ener = self._atom_ener(cfg["atom_ener"])
        if cfg["use_aparam_as_mask"]:
            raise ConfigError(f"{path}/use_aparam_as_mask: not supported by deepmt.")
        if any(e is not None for e in self.atom_ener) and not getattr(
                descriptor, "set_davg_zero", True):
            log.warning("%s/atom_ener is set but the descriptor has set_davg_zero false: an "
                        "isolated atom will not have exactly the given energy.", path)
        self.rcond = cfg["rcond"]
        self.bias_atom_e = np.array([e or 0.0 for e in self.atom_ener])
        self.fparam_avg = np.zeros(self.numb_fparam)
        self.fparam_istd = np.ones(self.numb_fparam)
        self.aparam_avg = np.zeros(self.numb_aparam)
        self.aparam_istd = np.ones(self.numb_aparam)

    def _non_negative(self, value, key: str) -> int:
        if not isinstance(value, int) or value < 0:
            raise ConfigError(f"{self.path}/{key}: expected an integer >= 0, got {value!r}.")
        return value

    def _atom_ener(self, values) -> List[Optional[float]]:
        values = list(values or [])
        if len(values) > self.ntypes:
            raise ConfigError(f"{self.path}/atom_ener: {len(values)} entries for "
                              f"{self.ntypes} types.")
        return [None if v is None else float(v) for v in values] + [None] * (
            self.ntypes - len(values))

    def get_dim_fparam(self) -> int:
        return self.numb_fparam

    def get_dim_aparam(self) -> int:
        return self.numb_aparam

    def net_input_dim(self) -> int:
        """Descriptor width plus the frame and atomic parameters."""
        return self.dim_descrpt + self.numb_fparam + self.numb_aparam

    def data_requirements(self) -> list:
        from deepmt.data.requirement import DataRequirement

        reqs = []
        if self.numb_fparam:
            reqs.append(DataRequirement("fparam", self.numb_fparam, atomic=False, must=True))
        if self.numb_aparam:
            reqs.append(DataRequirement("aparam", self.numb_aparam, atomic=True, must=True))
        return reqs

    def compute_output_stats(self, sample: list, protect: float = 1e-2) -> None:
        """Energy bias (least squares, one row per system) and fparam/aparam stats.

        Parameters
        ----------
        sample
            This head's stat sample: one list of batches per system (batches
            with ``energy``, ``find_energy``, ``natoms_vec`` and
            ``fparam``/``aparam`` when used).
        protect
            Floor of the fparam/aparam standard deviations (``data_stat_protect``).
        """
        from deepmt.data import stat

        bias = stat.energy_bias(sample, self.ntypes, rcond=self.rcond, atom_ener=self.atom_ener)
        # energy_bias already pins the atom_ener types to their values
        self.bias_atom_e = np.asarray(bias, dtype=np.float64).reshape(self.ntypes)
        if self.numb_fparam:
            avg, std = stat.param_stats(sample, "fparam", self.numb_fparam, protect=protect)
            self.fparam_avg, self.fparam_istd = np.asarray(avg), 1.0 / np.asarray(std)
        if self.numb_aparam:
            avg, std = stat.param_stats(sample, "aparam", self.numb_aparam, protect=protect)
            self.aparam_avg, self.aparam_istd = np.asarray(avg), 1.0 / np.asarray(std)

    def _param_inputs(self, x, natoms, fparam, aparam):
        """Normalized fparam ``nf x 1 x nfp`` and aparam ``nf x nloc x nap`` (or None)."""
        tf = get_tf()
        prec = x.dtype
        fp = ap = None
        with tf.variable_scope("fitting_attr"):
            if self.numb_fparam:
                avg = non_trainable_variable("t_fparam_avg", self.fparam_avg, tf.float64)
                istd = non_trainable_variable("t_fparam_istd", self.fparam_istd, tf.float64)
                if fparam is None:
                    raise ConfigError(f"{self.path}: numb_fparam > 0 but no fparam input.")
                fp = (tf.reshape(fparam, [-1, self.numb_fparam]) - avg) * istd
                fp = tf.expand_dims(tf.cast(fp, prec), 1)
            if self.numb_aparam:
                avg = non_trainable_variable("t_aparam_avg", self.aparam_avg, tf.float64)
                istd = non_trainable_variable("t_aparam_istd", self.aparam_istd, tf.float64)
                if aparam is None:
                    raise ConfigError(f"{self.path}: numb_aparam > 0 but no aparam input.")
                ap = (tf.reshape(aparam, [-1, natoms[0], self.numb_aparam]) - avg) * istd
                ap = tf.cast(ap, prec)
        return fp, ap

    def build(self, descriptor, natoms, rot_mat=None, fparam=None, aparam=None):
        """Atomic energies.

        Parameters
        ----------
        descriptor
            float64 ``nf*nloc x dim_descrpt``.
        natoms
            int32 ``[2 + ntypes]``.
        rot_mat
            Unused.
        fparam, aparam
            float64 ``[nf * numb_fparam]`` / ``[nf * nloc * numb_aparam]``.

        Returns
        -------
        float64 ``nf x nloc`` atomic energies (eV).
        """
        tf = get_tf()
        self.build_attrs()
        with tf.variable_scope("fitting_attr"):
            bias = non_trainable_variable("t_bias_atom_e", self.bias_atom_e, tf.float64)
        x = tf.reshape(tf.cast(descriptor, self.precision()), [-1, natoms[0], self.dim_descrpt])
        fp, ap = self._param_inputs(x, natoms, fparam, aparam)
        nf = tf.shape(x)[0]
        din = self.net_input_dim()
        blocks = []
        for t in range(self.ntypes):
            start, count = type_block(natoms, t)
            xt = x[:, start:start + count]  # nf x n_t x dim
            extra = []
            if fp is not None:
                extra.append(tf.tile(fp, [1, count, 1]))
            if ap is not None:
                extra.append(ap[:, start:start + count])
            inp = tf.reshape(tf.concat([xt] + extra, axis=2), [-1, din])
            out = self.type_net(inp, t, 1)
            if self.atom_ener[t] is not None:
                zero = tf.reshape(tf.concat([tf.zeros_like(xt)] + extra, axis=2), [-1, din])
                out = out - self.type_net(zero, t, 1)
            blocks.append(tf.reshape(tf.cast(out, tf.float64), [nf, -1]) + bias[t])
        return tf.concat(blocks, axis=1)

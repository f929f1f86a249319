"""One shared descriptor + an ordered dict of fitting heads -> named graph outputs.

Graph layout ("multi_head_v1", names from :mod:`deepmt.keys`):

* shared inputs ``t_coord, t_type, t_natoms, t_box, t_mesh`` (unscoped);
* shared descriptor, built once: ``descrpt_attr/*``, embedding variables
  (``filter_type_*``), ``o_rmat, o_rmat_deriv, o_rij, o_nlist, o_max_nnei,
  o_descriptor`` (and ``o_rot_mat`` when a tensor head exists);
* per head, everything under ``heads/<head>/``: inputs ``t_fparam``/``t_aparam``,
  variables (``layer_0_type_1/matrix``, ``fitting_attr/t_bias_atom_e``, ...),
  attributes (``model_attr/*``, ``fitting_attr/*``) and outputs (``o_energy``,
  ``o_force``, ...); layers shared through ``layer_name`` live in
  ``shared_fitting/<name>_type_<t>/``;
* ``model_attr/tmap``, ``deepmt_attr/format``, ``deepmt_attr/metadata`` (JSON).
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from typing import Dict, List, Optional

import deepmt
from deepmt import keys
from deepmt.errors import ConfigError, HeadError
from deepmt.utils.network import initial_value_getter
from deepmt.utils.tf_compat import get_tf

log = logging.getLogger(__name__)

#: output-name suffixes of the tensor heads (atomic, global)
_TENSOR_NAMES = {
    "dipole": (keys.O_DIPOLE, keys.O_GLOBAL_DIPOLE),
    "polar": (keys.O_POLAR, keys.O_GLOBAL_POLAR),
}


def check_head_names(names) -> None:
    """Raise :class:`ConfigError` for a head name that is invalid or duplicated."""
    seen = {}
    for name in names:
        if not keys.is_valid_head_name(name):
            raise ConfigError(
                f"model/fitting_net_dict/{name}: invalid head name {name!r}; "
                f"{keys.HEAD_NAME_RULE}."
            )
        if name.lower() in seen:
            raise ConfigError(
                f"model/fitting_net_dict: head names {seen[name.lower()]!r} and {name!r} differ "
                "only by case; head names must be unique ignoring case."
            )
        seen[name.lower()] = name


def check_shared_layers(fittings: Dict[str, object]) -> None:
    """Raise :class:`ConfigError` when layers sharing a ``layer_name`` differ.

    Layers of one name are one set of variables
    (``shared_fitting/<name>_type_<t>/``), so their widths, activation,
    precision, timestep and trainable flag must agree; checked here, before
    TensorFlow would fail with a variable-sharing error.
    """
    first: Dict[str, tuple] = {}
    for head, fit in fittings.items():
        for name, props in fit.shared_layers():
            if name not in first:
                first[name] = (head, props)
                continue
            head0, props0 = first[name]
            diffs = [f"{key} {props0[key]!r} in {head0!r} but {props[key]!r} in {head!r}"
                     for key in props if key != "layer" and props[key] != props0[key]]
            if diffs:
                raise ConfigError(
                    f"{fit.path}/layer_name: heads {head0!r} (layer {props0['layer']}) and "
                    f"{head!r} (layer {props['layer']}) share layer_name {name!r}, but the "
                    f"layers differ: {'; '.join(diffs)}. Layers with one layer_name are one "
                    "set of variables, so they need the same input and output widths, "
                    "activation_function, precision, resnet_dt timestep and trainable flag; "
                    "give one of them another name (or null) or make them agree."
                )


def as_stat_sample(batches: list) -> List[list]:
    """A flat list of batches -> one list per system (by ``sys_idx``, in order of
    first appearance); a list of lists is returned unchanged."""
    if not batches or isinstance(batches[0], (list, tuple)):
        return [list(system) for system in batches]
    systems: Dict[int, list] = OrderedDict()
    for batch in batches:
        systems.setdefault(int(batch.get("sys_idx", 0)), []).append(batch)
    return list(systems.values())


class Model:
    """A shared descriptor feeding an ordered dict of named fitting heads.

    Parameters
    ----------
    type_map
        Element name of each type id (``None``: raw type ids).
    descriptor
        The shared :class:`deepmt.descriptor.Descriptor`.
    fittings
        Head name -> :class:`deepmt.fitting.Fitting`, in head order.
    data_stat_protect
        Floor of the fparam/aparam standard deviations.
    default_head
        Head used when a caller does not name one (default: the first).
    """

    def __init__(self, type_map: Optional[List[str]], descriptor, fittings: Dict[str, object],
                 *, data_stat_protect: float = 1e-2, default_head: Optional[str] = None):
        if not fittings:
            raise ConfigError("model: at least one fitting head is needed.")
        check_head_names(list(fittings))
        check_shared_layers(fittings)
        self.type_map = None if type_map is None else list(type_map)
        self.descriptor = descriptor
        self.fittings = OrderedDict(fittings)
        self.ntypes = descriptor.get_ntypes()
        self.data_stat_protect = float(data_stat_protect)
        self.default_head = default_head or next(iter(self.fittings))
        if self.default_head not in self.fittings:
            raise HeadError(f"default head {self.default_head!r} is not one of the heads "
                            f"{list(self.fittings)}.")
        self._frozen_values: Dict = {}
        #: names of the variables whose initial value came from a frozen model
        self.frozen_initialized: List[str] = []

    @property
    def heads(self) -> List[str]:
        return list(self.fittings)

    def _fitting(self, head: str):
        if head not in self.fittings:
            raise HeadError(f"unknown head {head!r}; the model has heads {self.heads}.")
        return self.fittings[head]

    def data_requirements(self, head: str) -> list:
        """Data requirements of ``head``'s fitting (fparam/aparam)."""
        return self._fitting(head).data_requirements()

    # --- statistics ------------------------------------------------------
    def compute_stats(self, stat_batches: Dict[str, list], *, descriptor: bool = True) -> None:
        """Descriptor davg/dstd from all heads' frames; each head's output stats.

        Parameters
        ----------
        stat_batches
            Head -> that head's statistics batches: either a stat sample
            (one list of batches per system, as
            :func:`deepmt.data.stat.make_stat_sample` returns) or a flat list
            of batches (grouped into systems by their ``sys_idx``).
        descriptor
            Also compute the descriptor statistics from the union of all
            heads' batches (set false when the descriptor comes from a frozen
            model).

        Notes
        -----
        Call before :meth:`build`: the statistics become the initial values
        of the non-trainable variables. Restoring a checkpoint overwrites
        them; values from :meth:`init_from_frozen` take precedence.
        """
        samples = {head: as_stat_sample(batches) for head, batches in stat_batches.items()}
        for head in samples:
            self._fitting(head)
        if descriptor:
            from deepmt.data.stat import pool_frames

            frames = pool_frames(*samples.values())
            if not frames:
                raise ConfigError("no statistics batches were given for the descriptor.")
            self.descriptor.compute_input_stats(frames)
        for head, sample in samples.items():
            if not any(sample):
                log.warning("head %s: no statistics batches, output statistics skipped", head)
                continue
            self.fittings[head].compute_output_stats(sample, protect=self.data_stat_protect)

    # --- metadata ----------------------------------------------------------
    def metadata(self) -> dict:
        """The ``deepmt_attr/metadata`` dictionary (architecture doc §4)."""
        return {
            "format": keys.FORMAT,
            "version": deepmt.__version__,
            "model_version": keys.MODEL_VERSION,
            "type_map": self.type_map,
            "rcut": self.descriptor.get_rcut(),
            "sel": self.descriptor.get_sel(),
            "descriptor": self.descriptor.get_config(),
            "heads": {name: fit.metadata() for name, fit in self.fittings.items()},
            "default_head": self.default_head,
        }

    # --- graph -------------------------------------------------------------
    def make_placeholders(self) -> dict:
        """Graph inputs in the default graph, keyed by node name.

        Returns
        -------
        dict
            ``t_coord`` float64 [-1], ``t_type`` int32 [-1], ``t_natoms`` int32
            [ntypes + 2], ``t_box`` float64 [-1], ``t_mesh`` int32 [-1], and
            ``heads/<head>/t_fparam`` / ``t_aparam`` float64 [-1] for heads
            that use them.
        """
        tf = get_tf()
        ph = {
            keys.T_COORD: tf.placeholder(tf.float64, [None], name=keys.T_COORD),
            keys.T_TYPE: tf.placeholder(tf.int32, [None], name=keys.T_TYPE),
            keys.T_NATOMS: tf.placeholder(tf.int32, [self.ntypes + 2], name=keys.T_NATOMS),
            keys.T_BOX: tf.placeholder(tf.float64, [None], name=keys.T_BOX),
            keys.T_MESH: tf.placeholder(tf.int32, [None], name=keys.T_MESH),
        }
        for head, fit in self.fittings.items():
            for key, dim in ((keys.T_FPARAM, fit.get_dim_fparam()),
                             (keys.T_APARAM, fit.get_dim_aparam())):
                if dim:
                    name = keys.head_node(head, key)
                    ph[name] = tf.placeholder(tf.float64, [None], name=name)
        return ph

    def _build_attrs(self) -> None:
        tf = get_tf()
        tmap = " ".join(self.type_map) if self.type_map else ""
        tf.constant(tmap, name=keys.TYPE_MAP)
        tf.constant("multi_head", name="model_attr/model_type")
        tf.constant(keys.MODEL_VERSION, name="model_attr/model_version")
        tf.constant(keys.FORMAT, name=keys.ATTR_FORMAT)
        tf.constant(json.dumps(self.metadata()), name=keys.ATTR_METADATA)

    def build(self, placeholders: dict) -> Dict[str, Dict[str, object]]:
        """Build the descriptor once and every head on top of it.

        Parameters
        ----------
        placeholders
            As returned by :meth:`make_placeholders` (any tensors with those
            keys and dtypes work).

        Returns
        -------
        dict
            ``{head: {output: tensor}}``; ener heads: ``energy [nf]``,
            ``force [nf, nall*3]``, ``virial [nf, 9]``, ``atom_energy [nf, nloc]``,
            ``atom_virial [nf, nall*9]``; dipole (polar) heads: ``dipole``
            (``polar``) ``[nf, nsel*odim]``, ``global_dipole`` (``global_polar``)
            ``[nf, odim]``, component-wise ``force [nf, odim*nall*3]``,
            ``virial [nf, odim*9]``, ``atom_virial [nf, odim*nall*9]``.
        """
        tf = get_tf()
        p = placeholders
        natoms = p[keys.T_NATOMS]
        self.frozen_initialized = []
        getter = (initial_value_getter(self._frozen_values, self.frozen_initialized)
                  if self._frozen_values else None)
        with tf.variable_scope(tf.get_variable_scope(), custom_getter=getter,
                               auxiliary_name_scope=False):
            self._build_attrs()
            desc = self.descriptor.build(p[keys.T_COORD], p[keys.T_TYPE], natoms,
                                         p[keys.T_BOX], p[keys.T_MESH])
            dim = self.descriptor.get_dim_out()
            tf.identity(tf.reshape(desc, [-1, natoms[0], dim]), name=keys.O_DESCRIPTOR)
            rot = None
            if any(fit.needs_rot_mat() for fit in self.fittings.values()):
                rot = self.descriptor.get_rot_mat()
            outputs = OrderedDict()
            for head, fit in self.fittings.items():
                scope = keys.head_scope(head)
                with tf.variable_scope(scope, auxiliary_name_scope=False), \
                        tf.name_scope(scope + "/"):
                    fparam = p.get(keys.head_node(head, keys.T_FPARAM))
                    aparam = p.get(keys.head_node(head, keys.T_APARAM))
                    atomic = fit.build(desc, natoms, rot, fparam, aparam)
                    if fit.kind == "ener":
                        outputs[head] = self._energy_outputs(atomic, natoms)
                    else:
                        outputs[head] = self._tensor_outputs(fit, atomic, natoms)
        return outputs

    def _energy_outputs(self, atom_energy, natoms) -> dict:
        tf = get_tf()
        energy = tf.reduce_sum(atom_energy, axis=1)
        force, virial, atom_virial = self.descriptor.prod_force_virial(atom_energy, natoms)
        return {
            "energy": tf.identity(energy, name=keys.O_ENERGY),
            "force": tf.identity(force, name=keys.O_FORCE),
            "virial": tf.identity(virial, name=keys.O_VIRIAL),
            "atom_energy": tf.identity(atom_energy, name=keys.O_ATOM_ENERGY),
            "atom_virial": tf.identity(atom_virial, name=keys.O_ATOM_VIRIAL),
        }

    def _tensor_outputs(self, fit, atomic, natoms) -> dict:
        tf = get_tf()
        odim = fit.get_output_dim()
        nf = tf.shape(atomic)[0]
        per_atom = tf.reshape(atomic, [nf, -1, odim])  # nf x nsel x odim
        force, virial, atom_virial = self._component_derivatives(per_atom, natoms)
        atomic_name, global_name = _TENSOR_NAMES[fit.kind]
        return {
            fit.kind: tf.identity(atomic, name=atomic_name),
            f"global_{fit.kind}": tf.identity(tf.reduce_sum(per_atom, axis=1), name=global_name),
            "force": tf.identity(force, name=keys.O_FORCE),
            "virial": tf.identity(virial, name=keys.O_VIRIAL),
            "atom_virial": tf.identity(atom_virial, name=keys.O_ATOM_VIRIAL),
        }

    def _component_derivatives(self, per_atom, natoms) -> list:
        """Force, virial and atom virial of each component of a tensor head.

        Parameters
        ----------
        per_atom
            float64 ``nf x nsel x odim`` atomic tensors.
        natoms
            int32 ``[2 + ntypes]``.

        Returns
        -------
        list
            ``force nf x odim*nall*3``, ``virial nf x odim*9``,
            ``atom_virial nf x odim*nall*9`` (component-major, float64).

        Notes
        -----
        The components are derived in one ``map_fn`` loop, whose body holds
        a single backward pass through the fitting and the descriptor: ``odim``
        separate backward passes made graph building seconds slower (no loss
        uses these outputs) for the same values.
        """
        tf = get_tf()
        odim = int(per_atom.shape[-1])

        def one_component(comp):
            return self.descriptor.prod_force_virial(per_atom[:, :, comp], natoms)

        stacked = tf.map_fn(one_component, tf.range(odim), dtype=(tf.float64,) * 3,
                            name="component_derivatives")  # each odim x nf x n
        nf = tf.shape(per_atom)[0]
        return [tf.reshape(tf.transpose(value, [1, 0, 2]), [nf, -1]) for value in stacked]

    # --- initialisation from a frozen model ------------------------------
    def init_from_frozen(self, source, heads=None) -> dict:
        """Take initial variable values from a frozen model (``--init-frz-model``).

        Call before :meth:`build`. Values are matched by name: a frozen
        model's constants carry the names of the variables they were made
        from. Descriptor variables (and ``shared_fitting/*``) are always taken;
        head variables only for the selected heads. Frozen values take
        precedence over :meth:`compute_stats`.

        Parameters
        ----------
        source
            Path of a ``.pb`` file, a ``GraphDef``, or a dict name -> array.
        heads
            ``None``: every head of this model that the frozen model has;
            a list of head names; or a dict ``{new_head: frozen_head}`` to
            initialise a head from a differently named one.

        Returns
        -------
        dict
            ``{"heads": [initialised heads], "new_heads": [the others]}``.
        """
        from deepmt.model.frozen import check_type_map, frozen_constants, select_values

        values = frozen_constants(source)
        check_type_map(values, self.type_map)
        head_map = self._head_map(values, heads)
        self._frozen_values = select_values(values, head_map)
        return {"heads": list(head_map),
                "new_heads": [h for h in self.fittings if h not in head_map]}

    def _head_map(self, values: dict, heads) -> Dict[str, str]:
        present = {name.split("/")[1] for name in values if name.startswith("heads/")}
        if heads is None:
            return {h: h for h in self.fittings if h in present}
        mapping = dict(heads) if isinstance(heads, dict) else {h: h for h in heads}
        for new, old in mapping.items():
            self._fitting(new)
            if old not in present:
                raise HeadError(f"the frozen model has no head {old!r}; it has "
                                f"{sorted(present)}.")
        return mapping

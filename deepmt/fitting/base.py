"""Fitting interface, registry and the per-type dense nets all fittings use.

A fitting maps the shared descriptor of each atom to an atomic output. Atoms
are sorted by type, so type ``t`` is the contiguous block of local atoms
``[sum(natoms[2:2+t]), sum(natoms[2:3+t]))`` of every frame; each type gets
its own net (``layer_{l}_type_{t}``, ``final_layer_type_{t}`` inside the head's
variable scope ``heads/<head>/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from deepmt import keys
from deepmt.descriptor.base import resolve_config
from deepmt.errors import ConfigError
from deepmt.utils.network import (ACTIVATION_NAMES, PRECISION_NAMES, check_choice,
                                  dense_layer, get_precision, root_variable_scope)
from deepmt.utils.plugin import Registry
from deepmt.utils.tf_compat import get_tf

FITTINGS = Registry("fitting")


def net_args(default_resnet_dt: bool = True) -> list:
    """dargs arguments shared by every fitting (hidden widths, activation, ...)."""
    from dargs import Argument

    return [
        Argument("neuron", list[int], optional=True, default=[120, 120, 120],
                 alias=["n_neuron"],
                 doc="Widths of the hidden layers; a layer as wide as the previous one "
                     "gets a residual connection."),
        Argument("activation_function", str, optional=True, default="tanh",
                 doc="Activation of the hidden layers: " + ", ".join(ACTIVATION_NAMES[:-1])
                 + "."),
        Argument("precision", str, optional=True, default="default",
                 doc="Float precision of the net: " + ", ".join(PRECISION_NAMES)
                 + " ('default' = float64)."),
        Argument("resnet_dt", bool, optional=True, default=default_resnet_dt,
                 doc="Scale residual connections by a trainable per-feature timestep."),
    ]


def seed_arg():
    from dargs import Argument

    return Argument("seed", [int, None], optional=True, default=None,
                    doc="Random seed of the initial parameters (null: random).")


def sel_type_arg(alias: str):
    from dargs import Argument

    return Argument("sel_type", [list[int], int, None], optional=True, default=None,
                    alias=[alias],
                    doc="Atom types whose atomic tensor is fitted (null: all types).")


def fitting_path(head: str) -> str:
    """Config key path of ``head``'s fitting (for error messages)."""
    if head == keys.SINGLE_TASK_HEAD:
        return "model/fitting_net"
    return f"model/fitting_net_dict/{head}"


def type_block(natoms, t: int):
    """``(start, count)`` of the type-``t`` block of local atoms (int32 tensors)."""
    tf = get_tf()
    start = tf.reduce_sum(natoms[2:2 + t]) if t > 0 else tf.constant(0, tf.int32)
    return start, natoms[2 + t]


@dataclass(frozen=True)
class LayerSpec:
    """One dense layer of a type net.

    Attributes
    ----------
    index
        Layer index: ``0 .. len(neuron) - 1`` hidden, ``len(neuron)`` output.
    n_in, n_out
        Input and output widths.
    activation
        Activation name, None for the linear output layer.
    residual
        ``y = x + layer(x)`` (a hidden layer as wide as the previous one).
    use_timestep
        The residual branch is scaled by a trainable timestep (``idt``).
    """

    index: int
    n_in: int
    n_out: int
    activation: Optional[str]
    residual: bool
    use_timestep: bool


class Fitting:
    """Base class of fitting heads (see ``doc/developer/architecture.md`` §3).

    Parameters
    ----------
    descriptor
        The shared :class:`deepmt.descriptor.Descriptor` (for ``dim_out`` and
        the rotation-matrix width).
    ntypes
        Number of model types.
    head
        Head name (errors name the head's config path).
    """

    register = staticmethod(FITTINGS.register)
    registered_name = "base"
    #: "ener", "dipole" or "polar"
    kind = "ener"
    #: components of the atomic output (1, 3 or 9)
    output_dim = 1

    @classmethod
    def args(cls) -> list:
        raise NotImplementedError

    def __init__(self, descriptor, ntypes: int, head: str, **config):
        self.head = head
        self.ntypes = int(ntypes)
        self.path = fitting_path(head)
        self.config = resolve_config(self.args(), config, self.path)
        self.dim_descrpt = descriptor.get_dim_out()
        cfg = self.config
        self.neuron = [int(n) for n in cfg["neuron"]]
        if min(self.neuron, default=1) <= 0:
            raise ConfigError(f"{self.path}/neuron: need positive widths, got {self.neuron}.")
        self.activation = check_choice(cfg["activation_function"], ACTIVATION_NAMES,
                                       f"{self.path}/activation_function")
        self.precision_name = check_choice(cfg["precision"], PRECISION_NAMES,
                                           f"{self.path}/precision")
        self.resnet_dt = bool(cfg["resnet_dt"])
        self.seed = cfg["seed"]
        self.trainable = [True] * (len(self.neuron) + 1)
        self.layer_name: List[Optional[str]] = [None] * (len(self.neuron) + 1)

    # --- information ---------------------------------------------------
    def get_sel_type(self) -> List[int]:
        return list(range(self.ntypes))

    def get_output_dim(self) -> int:
        return self.output_dim

    def get_dim_fparam(self) -> int:
        return 0

    def get_dim_aparam(self) -> int:
        return 0

    def needs_rot_mat(self) -> bool:
        return self.kind != "ener"

    def get_config(self) -> Dict[str, Any]:
        return {"type": self.registered_name, **self.config}

    def metadata(self) -> Dict[str, Any]:
        """The head's entry of the ``deepmt_attr/metadata`` JSON."""
        return {"type": self.kind, "sel_type": self.get_sel_type(),
                "output_dim": self.get_output_dim(), "dim_fparam": self.get_dim_fparam(),
                "dim_aparam": self.get_dim_aparam()}

    def data_requirements(self) -> list:
        """:class:`deepmt.data.requirement.DataRequirement` list of the fitting."""
        return []

    def compute_output_stats(self, sample: list, protect: float = 1e-2) -> None:
        """Output statistics from this head's stat sample (one list of batches
        per system); default: none."""

    def build(self, descriptor, natoms, rot_mat=None, fparam=None, aparam=None):
        raise NotImplementedError

    def build_attrs(self) -> None:
        """Per-head constants under ``heads/<head>/`` (current name scope)."""
        tf = get_tf()
        tf.constant(self.kind, name="model_attr/model_type")
        tf.constant(self.get_sel_type(), dtype=tf.int32, name="model_attr/sel_type")
        tf.constant(self.get_output_dim(), dtype=tf.int32, name="model_attr/output_dim")
        tf.constant(self.get_dim_fparam(), dtype=tf.int32, name="fitting_attr/dfparam")
        tf.constant(self.get_dim_aparam(), dtype=tf.int32, name="fitting_attr/daparam")

    # --- nets ------------------------------------------------------------
    def precision(self):
        return get_precision(self.precision_name)

    def net_input_dim(self) -> int:
        """Width of the input of each type net (the descriptor width)."""
        return self.dim_descrpt

    def _net_width(self) -> int:
        """Width of the output layer of each type net."""
        return self.get_output_dim()

    def layer_specs(self, n_out: Optional[int] = None) -> List[LayerSpec]:
        """The layers of a type net: hidden layers, then the linear output layer.

        Parameters
        ----------
        n_out
            Output width (default: :meth:`_net_width`).
        """
        n_out = self._net_width() if n_out is None else int(n_out)
        specs, n_in, prev = [], self.net_input_dim(), None
        for index, width in enumerate(self.neuron):
            residual = index > 0 and width == prev
            specs.append(LayerSpec(index, n_in, width, self.activation, residual,
                                   residual and self.resnet_dt))
            n_in = prev = width
        specs.append(LayerSpec(len(self.neuron), n_in, n_out, None, False, False))
        return specs

    def shared_layers(self) -> List[Tuple[str, Dict[str, Any]]]:
        """``(layer_name, properties)`` of every layer shared through ``layer_name``.

        Two layers with one name are one set of variables, so every property
        listed here (except ``layer``, the layer index) must agree.
        """
        if not any(self.layer_name):
            return []
        precision = "float64" if self.precision_name == "default" else self.precision_name
        out = []
        for spec in self.layer_specs():
            name = self.layer_name[spec.index]
            if name is None:
                continue
            out.append((name, {
                "layer": spec.index, "input width": spec.n_in, "output width": spec.n_out,
                "activation_function": spec.activation or "none (output layer)",
                "precision": precision, "resnet_dt timestep": spec.use_timestep,
                "residual connection": spec.residual,
                "trainable": self.trainable[spec.index]}))
        return out

    def type_net(self, x, t: int, n_out: int):
        """Hidden layers + linear output layer of the type-``t`` net.

        Parameters
        ----------
        x
            ``n x din`` input in the net precision.
        t
            Atom type (selects the variables).
        n_out
            Output width.

        Returns
        -------
        ``n x n_out`` in the net precision.
        """
        for spec in self.layer_specs(n_out):
            y = self._layer(x, spec, t)
            x = x + y if spec.residual else y
        return x

    def _layer(self, x, spec: LayerSpec, t: int):
        final = spec.index == len(self.neuron)
        kwargs = dict(precision=x.dtype, activation=spec.activation, seed=self.seed,
                      trainable=self.trainable[spec.index], use_timestep=spec.use_timestep)
        shared = self.layer_name[spec.index]
        if shared is None:
            scope = f"final_layer_type_{t}" if final else f"layer_{spec.index}_type_{t}"
            return dense_layer(x, spec.n_out, scope=scope, **kwargs)
        tf = get_tf()
        with root_variable_scope("shared_fitting", reuse=tf.AUTO_REUSE):
            return dense_layer(x, spec.n_out, scope=f"{shared}_type_{t}", **kwargs)


def normalize_sel_type(value, ntypes: int, path: str) -> List[int]:
    """``sel_type`` key -> sorted list of type ids (``None`` = all types)."""
    if value is None:
        return list(range(ntypes))
    items: Sequence = [value] if isinstance(value, int) else value
    if (not isinstance(items, (list, tuple)) or not items
            or not all(isinstance(t, int) and 0 <= t < ntypes for t in items)):
        raise ConfigError(
            f"{path}/sel_type: expected type indices in [0, {ntypes}), got {value!r}."
        )
    return sorted(set(int(t) for t in items))

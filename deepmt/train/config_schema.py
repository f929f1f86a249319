"""The training-input schema, assembled from the component registries.

The components (descriptors, fittings, losses, learning rates) describe their
own keys through a classmethod ``args() -> list[dargs.Argument]``; this module
adds the sections that belong to no component (``model`` framing, ``training``,
data blocks) and wraps every registry into a ``dargs.Variant`` on ``type``.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import List, Optional, Union

from dargs import Argument, Variant

from deepmt.utils.plugin import Registry


@dataclass(frozen=True)
class Registries:
    """The four component registries the schema is built from."""

    descriptor: Registry
    fitting: Registry
    loss: Registry
    learning_rate: Registry


def default_registries() -> Registries:
    """The registries of the installed deepmt components (imported lazily)."""
    from deepmt.descriptor import DESCRIPTORS
    from deepmt.fitting import FITTINGS
    from deepmt.loss import LOSSES
    from deepmt.train.learning_rate import LEARNING_RATES

    return Registries(DESCRIPTORS, FITTINGS, LOSSES, LEARNING_RATES)


# --- value checks (dargs extra_check) ---------------------------------------

def _nonneg_int(value) -> bool:
    return value is None or value >= 0


def _positive(value) -> bool:
    return value is None or value > 0


def _valid_type_map(value) -> bool:
    return len(value) > 0 and len(set(value)) == len(value) and all(value)


def _valid_systems(value) -> bool:
    return len(value) > 0 if isinstance(value, (str, list)) else False


def _valid_batch_size(value) -> bool:
    if isinstance(value, int):
        return value > 0
    if isinstance(value, list):
        return len(value) > 0 and all(v > 0 for v in value)
    return re.fullmatch(r"auto(:[1-9][0-9]*)?", value) is not None


_NUMBER = r"[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?"
_AUTO_PROB = re.compile(
    rf"prob_uniform|prob_sys_size(;[0-9]+:[0-9]+:{_NUMBER})*"
)


def _valid_auto_prob(value) -> bool:
    return _AUTO_PROB.fullmatch(value) is not None


def _valid_sys_probs(value) -> bool:
    return value is None or (len(value) > 0 and all(v >= 0 for v in value) and sum(value) > 0)


# --- component variants -----------------------------------------------------

def _class_doc(cls) -> str:
    """First paragraph of a class docstring, on one line."""
    doc = inspect.getdoc(cls) or ""
    return " ".join(doc.split("\n\n")[0].split())


def component_variant(registry: Registry, default_tag: Optional[str], doc: str) -> Variant:
    """``Variant("type", ...)`` with one choice per registered class.

    ``default_tag`` is used when it is registered; ``None`` makes ``type``
    required.
    """
    choices = [
        Argument(
            name, dict, sub_fields=cls.args(), alias=list(registry.aliases(name)),
            doc=_class_doc(cls),
        )
        for name, cls in registry.items()
    ]
    known = registry.names()
    if default_tag not in known:
        default_tag = None
    return Variant(
        "type", choices, optional=default_tag is not None,
        default_tag=default_tag or "", doc=doc,
    )


def _descriptor_variant(reg: Registries) -> Variant:
    return component_variant(reg.descriptor, None, "The descriptor type.")


def _fitting_variant(reg: Registries) -> Variant:
    return component_variant(
        reg.fitting, "ener", "The fitting-net type (the kind of property the head predicts).")


def _loss_variant(reg: Registries) -> Variant:
    return component_variant(
        reg.loss, "ener",
        "The loss type. When absent it follows the head's fitting kind: `ener` "
        "for energy fittings, `tensor` for dipole and polarizability fittings.")


def _lr_variant(reg: Registries) -> Variant:
    return component_variant(reg.learning_rate, "exp", "The learning-rate schedule type.")


# --- model ------------------------------------------------------------------

def model_args(reg: Registries) -> Argument:
    """The ``model`` section (descriptor + fitting_net or fitting_net_dict)."""
    fields = [
        Argument("type_map", list[str], optional=True, extra_check=_valid_type_map,
                 extra_check_errmsg="it must be a non-empty list of distinct, "
                 "non-empty element names",
                 doc="Element name of each model type: type i is `type_map[i]`. "
                 "Atom names in the data (`type_map.raw`) are remapped to these by name. "
                 "Optional for single-task inputs, required for multi-task inputs."),
        Argument("descriptor", dict, sub_variants=[_descriptor_variant(reg)],
                 doc="The descriptor shared by every head."),
        Argument("fitting_net", dict, sub_variants=[_fitting_variant(reg)], optional=True,
                 doc="Single task: the one fitting net (its head is named "
                 "`main`). Give either this or `fitting_net_dict`."),
        Argument("fitting_net_dict", dict, sub_variants=[_fitting_variant(reg)],
                 repeat=True, optional=True,
                 doc="Multi task: one fitting net per head, keyed by head name. "
                 "A head name starts with a letter followed by at most 63 "
                 "letters, digits, `_`, `.` or `-`, and may not be `default` (in any "
                 "case): inference reserves that name for the default head. Heads keep "
                 "this order everywhere (learning curve, frozen model)."),
        Argument("data_stat_nbatch", int, optional=True, default=10,
                 extra_check=_positive, extra_check_errmsg="it must be positive",
                 doc="Number of batches drawn from each training system to compute "
                 "the descriptor normalisation and the output statistics."),
        Argument("data_stat_protect", float, optional=True, default=1e-2,
                 extra_check=_positive, extra_check_errmsg="it must be positive",
                 doc="Lower bound of the standard deviations used in the statistics "
                 "(protects against division by zero)."),
    ]
    return Argument("model", dict, sub_fields=fields,
                    doc="The model: one shared descriptor and one or several fitting nets.")


# --- learning rate and loss -------------------------------------------------

def learning_rate_args(reg: Registries) -> List[Argument]:
    """``learning_rate`` and ``learning_rate_dict``."""
    return [
        Argument("learning_rate", dict, sub_variants=[_lr_variant(reg)],
                 optional=True, default={},
                 doc="Learning-rate schedule. In multi-task inputs it applies to "
                 "every head without an entry in `learning_rate_dict`. All "
                 "schedules follow the one global step."),
        Argument("learning_rate_dict", dict, sub_variants=[_lr_variant(reg)],
                 repeat=True, optional=True,
                 doc="Multi task: a complete learning-rate section per head name, "
                 "replacing `learning_rate` for that head (it is not merged with "
                 "it: missing keys take their schema defaults)."),
    ]


def loss_args(reg: Registries) -> List[Argument]:
    """``loss`` and ``loss_dict``."""
    return [
        Argument("loss", dict, sub_variants=[_loss_variant(reg)], optional=True,
                 doc="Single task: the loss. When absent, the default loss of the "
                 "fitting kind is used: `{\"type\": \"ener\"}` for an energy "
                 "fitting, `{\"type\": \"tensor\", \"pref\": 1.0, \"pref_atomic\": "
                 "1.0}` for dipole and polarizability fittings (each term is "
                 "trained only on systems that provide its label)."),
        Argument("loss_dict", dict, sub_variants=[_loss_variant(reg)], repeat=True,
                 optional=True,
                 doc="Multi task: the loss of each head, keyed by head name. A "
                 "head without an entry gets the default loss of its fitting "
                 "kind (see `loss`)."),
    ]


# --- training and data ------------------------------------------------------

def data_args(name: str, validation: bool, doc: str) -> Argument:
    """A ``training_data`` (or ``validation_data``, with ``numb_btch``) block."""
    fields = [
        Argument("systems", [str, list[str]], extra_check=_valid_systems,
                 extra_check_errmsg="give at least one system",
                 doc="Data systems: a list of system folders (each with `type.raw` "
                 "and `set.*` folders), or one folder searched recursively for "
                 "systems."),
        Argument("set_prefix", str, optional=True, default="set",
                 doc="Prefix of the frame-set folders inside a system (`set.000`, ...)."),
        Argument("batch_size", [int, list[int], str], optional=True, default="auto",
                 extra_check=_valid_batch_size,
                 extra_check_errmsg="use a positive int, a list of positive ints "
                 "(one per system), `auto` or `auto:N`",
                 doc="Frames per batch: an int for every system, a list with one "
                 "int per system, `auto` (= `auto:32`) or `auto:N`, the smallest "
                 "batch size with batch size x atoms >= N."),
        Argument("auto_prob", str, optional=True, default="prob_sys_size",
                 alias=["auto_prob_style"], extra_check=_valid_auto_prob,
                 extra_check_errmsg="use `prob_uniform`, `prob_sys_size` or "
                 "`prob_sys_size;start:end:weight;...`",
                 doc="How systems are sampled when `sys_probs` is not given: "
                 "`prob_uniform` (every system equally), `prob_sys_size` "
                 "(proportional to the number of batches), or "
                 "`prob_sys_size;s0:e0:w0;s1:e1:w1;...` (systems s..e-1 get total "
                 "weight w, proportional to size within a group)."),
        Argument("sys_probs", [list[float], None], optional=True, default=None,
                 alias=["sys_weights"], extra_check=_valid_sys_probs,
                 extra_check_errmsg="give one non-negative weight per system, not all zero",
                 doc="Explicit sampling probability of each system (normalised); "
                 "overrides `auto_prob`."),
    ]
    if validation:
        fields.append(
            Argument("numb_btch", int, optional=True, default=1, alias=["numb_batch"],
                     extra_check=_positive, extra_check_errmsg="it must be positive",
                     doc="Number of batches averaged at each validation."))
    dtype = [dict, None] if validation else dict
    default = {"default": None} if validation else {}
    return Argument(name, dtype, sub_fields=fields, optional=True, doc=doc, **default)


_TRAIN_DOC = ("Single task: the training data (required). Multi-task inputs "
              "give it per head in `data_dict/<head>/training_data`.")
_VALID_DOC = ("Validation data, evaluated every `disp_freq` steps; `null` for "
              "none (the learning curve then shows training errors only).")


def _data_dict_args() -> Argument:
    entry = [data_args("training_data", False, "Training data of this head."),
             data_args("validation_data", True, "Validation data of this head, or `null`.")]
    entry[0].optional = False
    return Argument(
        "data_dict", dict, sub_fields=entry, repeat=True, optional=True,
        doc="Multi task: the data of each head, keyed by head name, each "
        "`{training_data, validation_data}`. A head without an entry is not trained.")


def _int_arg(name: str, default: int, check, errmsg: str, doc: str, alias=()) -> Argument:
    return Argument(name, int, optional=True, default=default, alias=list(alias),
                    extra_check=check, extra_check_errmsg=errmsg, doc=doc)


def _training_fields() -> List[Argument]:
    return [
        data_args("training_data", False, _TRAIN_DOC),
        data_args("validation_data", True, _VALID_DOC),
        _data_dict_args(),
        Argument("fitting_weight", dict[str, Union[int, float]], optional=True,
                 doc="Multi task: relative probability of training each head at a "
                 "step (normalised to sum 1). Absent: equal over the heads with "
                 "data. A head with weight 0, without a weight, or without data is "
                 "not trained (a warning is logged)."),
        Argument("numb_steps", int, alias=["stop_batch"], extra_check=_nonneg_int,
                 extra_check_errmsg="it must be >= 0",
                 doc="Total number of training steps (all heads together)."),
        Argument("seed", [int, None], optional=True, default=None,
                 doc="Seed of the data and head sampling; `null` draws one at random."),
        Argument("disp_file", str, optional=True, default="lcurve.out",
                 doc="Learning-curve file."),
        _int_arg("disp_freq", 1000, _positive, "it must be positive",
                 "Steps between two learning-curve records (validation)."),
        _int_arg("save_freq", 1000, _nonneg_int, "it must be >= 0",
                 "Steps between two checkpoints; 0 saves only at the end."),
        Argument("save_ckpt", str, optional=True, default="model.ckpt",
                 doc="Checkpoint path prefix."),
        _int_arg("max_ckpt_keep", 5, _positive, "it must be positive",
                 "Number of step-stamped checkpoints kept."),
        Argument("disp_training", bool, optional=True, default=True,
                 doc="Write the learning curve."),
        Argument("time_training", bool, optional=True, default=True,
                 doc="Log the wall time of every display interval."),
        Argument("profiling", bool, optional=True, default=False,
                 doc="Trace the last training step (TensorFlow FULL_TRACE) and write it "
                 "as a Chrome trace (`traceEvents` JSON, for chrome://tracing or "
                 "Perfetto) to `profiling_file`."),
        Argument("profiling_file", str, optional=True, default="timeline.json",
                 doc="Output file of `profiling`."),
        Argument("tensorboard", bool, optional=True, default=False,
                 doc="Write TensorBoard summaries to `tensorboard_log_dir`: the graph "
                 "once, then every `tensorboard_freq` steps the scalars of the head "
                 "trained at that step, tagged `<head>/loss`, `<head>/<metric>` (the "
                 "learning-curve metrics of the training batch, e.g. `<head>/rmse_f`) "
                 "and `<head>/learning_rate`. The values come from the step's own "
                 "forward pass; other steps run nothing extra."),
        Argument("tensorboard_log_dir", str, optional=True, default="log",
                 doc="TensorBoard log folder, created if missing. A new run removes the "
                 "TensorFlow event files (`events.out.tfevents.*`) in it and nothing "
                 "else; a restart keeps them and continues the curves from its step."),
        _int_arg("tensorboard_freq", 1, _positive, "it must be positive",
                 "Steps between two TensorBoard records."),
    ]


def training_args() -> Argument:
    """The ``training`` section."""
    return Argument("training", dict, sub_fields=_training_fields(),
                    doc="The training loop: data, number of steps, output files.")


def build_schema(reg: Optional[Registries] = None) -> Argument:
    """The whole input schema as one dargs ``Argument`` (the root, ``input``)."""
    reg = reg or default_registries()
    sections = [model_args(reg), *learning_rate_args(reg), *loss_args(reg), training_args()]
    return Argument("input", dict, sub_fields=sections,
                    doc="The training input of `deepmt train`.")

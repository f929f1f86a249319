"""``DeepPotential``: the evaluator matching a head's kind."""

from __future__ import annotations

from typing import Optional

from deepmt.infer.deep_eval import DeepEval
from deepmt.infer.deep_pot import DeepPot
from deepmt.infer.deep_tensor import DeepDipole, DeepPolar

#: head kind -> evaluator class
EVALUATORS = {"ener": DeepPot, "dipole": DeepDipole, "polar": DeepPolar}


def DeepPotential(model, head: Optional[str] = None, **kwargs) -> DeepEval:  # noqa: N802
    """Load ``model`` and return the evaluator of ``head`` (by its kind).

    Parameters
    ----------
    model
        Path of a frozen ``.pb`` or an evaluator to share the session with.
    head
        Head name; when left out the file's default head (or its only head).
    **kwargs
        ``load_prefix``, ``batch_size`` for the evaluator.

    Returns
    -------
    DeepPot, DeepDipole or DeepPolar

    Raises
    ------
    HeadError
        Unknown head, or no head given and no default head.
    """
    base = model if isinstance(model, DeepEval) else DeepEval(model, **kwargs)
    name = base._resolve(head, tuple(EVALUATORS), "DeepPotential")
    kind = base.get_head_info()[name]["type"]
    kwargs.pop("load_prefix", None)
    return EVALUATORS[kind](base, head=name, **kwargs)

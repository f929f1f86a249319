"""Evaluating several heads of one frozen file in one session run."""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

from deepmt.infer.deep_eval import DeepEval
from deepmt.infer.factory import DeepPotential


def _per_head(value, head: str, requested: str, dim: int):
    """This head's fparam/aparam: its dict entry, or the shared array if it takes one."""
    if isinstance(value, Mapping):
        return value.get(requested, value.get(head))
    return value if dim else None


def eval_heads(model, coords, cells, atom_types, heads: Optional[Sequence[str]] = None,
               atomic: bool = False, fparam=None, aparam=None) -> Dict[str, object]:
    """Evaluate several heads on the same frames, sharing the descriptor.

    All heads' outputs are fetched in one ``Session.run`` per chunk of
    frames, so the shared descriptor is computed once.

    Parameters
    ----------
    model
        Path of a frozen ``.pb`` or an evaluator (its session is reused).
    coords, cells, atom_types
        As for :meth:`deepmt.infer.DeepPot.eval`.
    heads
        Head names (default: every head of the file).
    atomic
        Passed to each head's ``eval``: energy heads add atomic energies and
        virials, tensor heads return atomic instead of global tensors.
    fparam, aparam
        One array given to every head that takes it (ignored by the others),
        or a dict ``{head: array}``.

    Returns
    -------
    dict
        ``{head: result}`` keyed by the names as given; each result equals
        ``DeepPotential(model, head=head).eval(..., atomic=atomic)``.

    Raises
    ------
    HeadError
        An unknown head.
    InputError
        Bad arrays (see :meth:`deepmt.infer.DeepPot.eval`).
    """
    base = model if isinstance(model, DeepEval) else DeepEval(model)
    names = list(heads) if heads is not None else base.get_heads()
    evaluators = {name: DeepPotential(base, head=name) for name in names}
    frames = base._prepare(coords, cells, atom_types)
    fetches, feeds = {}, {}
    for name, evaluator in evaluators.items():
        fetches.update({(name, key): node for key, node in evaluator._fetches(atomic).items()})
        feeds.update(evaluator._param_feeds(
            frames,
            _per_head(fparam, evaluator.head, name, evaluator.get_dim_fparam()),
            _per_head(aparam, evaluator.head, name, evaluator.get_dim_aparam())))
    raw = base._run(frames, fetches, feeds)
    results = {}
    for name, evaluator in evaluators.items():
        mine = {key: value for (owner, key), value in raw.items() if owner == name}
        results[name] = evaluator._finish(frames, mine, atomic)
    return results

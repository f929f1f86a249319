"""Batch sizes and system probabilities of a data block.

Rules (DeePMD-kit 2.2 compatible, see ``doc/data.md``):

* ``batch_size``: an int for every system, a list (one per system),
  ``"auto"`` = ``"auto:32"``, or ``"auto:N"`` = the smallest ``bs`` with
  ``bs * natoms >= N``;
* ``auto_prob``: ``"prob_uniform"``, ``"prob_sys_size"`` (proportional to the
  batch count of each system), ``"prob_sys_size;a:b:w;..."`` (blocks of
  systems ``[a, b)`` with weights ``w``, proportional to batch counts inside a
  block, 0 outside every block);
* ``sys_probs``: explicit list; negative entries share what the others leave,
  in proportion to their batch counts.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from deepmt.errors import ConfigError

_TOL = 1e-8


def key_path(where: str, key: str) -> str:
    """``where`` + ``key`` joined with the separator ``where`` already uses
    (``training/training_data/systems`` or ``training.training_data.systems``)."""
    return f"{where}{'/' if '/' in where else '.'}{key}"


def resolve_batch_sizes(batch_size: Union[int, str, Sequence[int]], natoms: Sequence[int],
                        where: str = "batch_size") -> Tuple[List[int], bool]:
    """Per-system batch sizes.

    Returns
    -------
    sizes : list of int
        one per system.
    auto : bool
        True for ``"auto"`` rules (no short-set warning is needed then).
    """
    nsys = len(natoms)
    if isinstance(batch_size, (bool, np.bool_)):
        raise ConfigError(f"{where} must be an int, a list of ints or 'auto[:N]', "
                          f"got {batch_size!r}.")
    if isinstance(batch_size, (int, np.integer)):
        sizes, auto = [int(batch_size)] * nsys, False
    elif isinstance(batch_size, str):
        sizes, auto = [_auto_size(batch_size, n, where) for n in natoms], True
    elif isinstance(batch_size, (list, tuple)):
        if len(batch_size) != nsys:
            raise ConfigError(f"{where} lists {len(batch_size)} batch sizes but there are "
                              f"{nsys} systems; give one per system.")
        if not all(isinstance(b, (int, np.integer)) and not isinstance(b, bool)
                   for b in batch_size):
            raise ConfigError(f"{where} must list integers, got {list(batch_size)!r}.")
        sizes, auto = [int(b) for b in batch_size], False
    else:
        raise ConfigError(f"{where} must be an int, a list of ints or 'auto[:N]', "
                          f"got {batch_size!r}.")
    if min(sizes, default=1) < 1:
        raise ConfigError(f"{where} must be positive, got {batch_size!r}.")
    return sizes, auto


def _auto_size(rule: str, natoms: int, where: str) -> int:
    head, _, tail = rule.partition(":")
    if head == "mixed":
        raise ConfigError(f"{where} = {rule!r}: mixed-type batches are not supported by "
                          "deepmt; use 'auto', 'auto:N', an int or a list.")
    if head != "auto":
        raise ConfigError(f"{where} = {rule!r} is not understood; use 'auto', 'auto:N', an "
                          "int or a list of ints.")
    try:
        target = int(tail) if tail else 32
    except ValueError:
        raise ConfigError(f"{where} = {rule!r}: N in 'auto:N' must be an integer.") from None
    if target < 1:
        raise ConfigError(f"{where} = {rule!r}: N in 'auto:N' must be positive.")
    return max(1, math.ceil(target / natoms))


def resolve_probs(auto_prob: str, sys_probs: Optional[Sequence[float]],
                  nbatch: Sequence[int], where: str = "data") -> np.ndarray:
    """System probabilities ``[nsys]`` summing to 1.

    ``sys_probs`` (when given) overrides ``auto_prob``.
    """
    nbatch = np.asarray(nbatch, dtype=np.float64)
    if sys_probs is not None:
        probs = _explicit_probs(sys_probs, nbatch, key_path(where, "sys_probs"))
    else:
        probs = _auto_probs(auto_prob, nbatch, key_path(where, "auto_prob"))
    if probs.sum() <= 0:
        raise ConfigError(f"{where}: every system has probability 0.")
    return probs / probs.sum()


def _auto_probs(style: str, nbatch: np.ndarray, where: str) -> np.ndarray:
    nsys = nbatch.size
    if style == "prob_uniform":
        return np.full(nsys, 1.0 / nsys)
    if style == "prob_sys_size":
        return nbatch / nbatch.sum()
    if not isinstance(style, str) or not style.startswith("prob_sys_size;"):
        raise ConfigError(f"{where} = {style!r} is not one of 'prob_uniform', "
                          "'prob_sys_size', 'prob_sys_size;a:b:w;...'.")
    blocks = [_parse_block(b, nsys, style, where) for b in style.split(";")[1:] if b.strip()]
    if not blocks:
        raise ConfigError(f"{where} = {style!r} lists no block 'a:b:w'.")
    total = sum(w for _, _, w in blocks)
    if total <= 0:
        raise ConfigError(f"{where} = {style!r}: the block weights sum to 0.")
    probs = np.zeros(nsys)
    covered = np.zeros(nsys, dtype=bool)
    for start, stop, weight in blocks:
        if covered[start:stop].any():
            raise ConfigError(f"{where} = {style!r}: blocks overlap at systems "
                              f"{np.flatnonzero(covered[start:stop])[0] + start}.")
        covered[start:stop] = True
        probs[start:stop] = weight / total * nbatch[start:stop] / nbatch[start:stop].sum()
    return probs


def _parse_block(text: str, nsys: int, style: str, where: str) -> Tuple[int, int, float]:
    try:
        start, stop, weight = text.split(":")
        start, stop, weight = int(start), int(stop), float(weight)
    except ValueError:
        raise ConfigError(f"{where} = {style!r}: block {text!r} is not 'start:end:weight' "
                          "(end exclusive).") from None
    if not 0 <= start < stop <= nsys:
        raise ConfigError(f"{where} = {style!r}: block {text!r} must satisfy "
                          f"0 <= start < end <= {nsys} (number of systems).")
    if not weight >= 0:
        raise ConfigError(f"{where} = {style!r}: block {text!r} has a negative weight.")
    return start, stop, weight


def _explicit_probs(sys_probs: Sequence[float], nbatch: np.ndarray, where: str) -> np.ndarray:
    probs = np.asarray(sys_probs, dtype=np.float64)
    if probs.shape != nbatch.shape:
        raise ConfigError(f"{where} has {probs.size} entries but there are {nbatch.size} "
                          "systems; give one per system (negative = share the rest).")
    if not np.isfinite(probs).all():
        raise ConfigError(f"{where} must hold finite numbers, got {list(sys_probs)!r}.")
    given = probs >= 0
    assigned = probs[given].sum()
    if assigned > 1.0 + _TOL:
        raise ConfigError(f"{where}: the non-negative entries sum to {assigned:g} > 1.")
    rest = 1.0 - assigned
    if given.all():
        if rest > _TOL:
            raise ConfigError(f"{where} sums to {assigned:g}, not 1; make the entries sum "
                              "to 1 or mark systems with -1 to share the rest.")
        return probs
    out = np.where(given, probs, 0.0)
    if rest > _TOL:
        share = np.where(given, 0.0, nbatch)
        out += rest * share / share.sum()
    return out

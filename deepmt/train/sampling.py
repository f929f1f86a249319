"""Reproducible randomness of a training run, and how a restart recovers it.

Every random stream of the trainer has its own ``numpy.random.Generator``
derived from one base seed (``training.seed``, or a fresh one that is then
stored): the head choice, and each head's training and validation data.
Streams are keyed by head *name*, so adding a head does not change the
others' draws.

A restart must continue exactly where the checkpointed run stopped.  The
data sampler has no state export, but it is deterministic given its
generator and the sequence of calls, so :class:`RecordedData` logs the calls
(run-length encoded ``sys_idx`` values) and a restart replays them on freshly
built data.  The log, the base seed and the head generator's state are
stored in the checkpoint as one JSON string (:class:`TrainerState`).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

#: stream names besides the per-head data streams
HEAD_CHOICE = "head_choice"
_FORMAT = 1


def fresh_seed() -> int:
    """A random base seed (used when ``training.seed`` is null)."""
    return int(np.random.SeedSequence().entropy % (2 ** 63))


def stream_rng(seed: int, name: str) -> np.random.Generator:
    """Generator of stream ``name`` (e.g. ``water/train``) for base ``seed``."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng([int(seed) % (2 ** 63), key])


class RecordedData:
    """A ``MultiSystemData`` whose ``get_batch`` calls are logged.

    Every other attribute is the wrapped object's, so statistics helpers
    (``make_stat_sample``) accept it as a data block.

    Parameters
    ----------
    data
        The wrapped ``MultiSystemData``.
    """

    def __init__(self, data):
        self._data = data
        self.calls: List[List[int]] = []  # [[sys_idx or -1, count], ...]

    def __getattr__(self, name):
        return getattr(self._data, name)

    @property
    def data(self):
        """The wrapped data block."""
        return self._data

    def get_batch(self, sys_idx: Optional[int] = None) -> dict:
        """Next batch (see ``MultiSystemData.get_batch``), logged."""
        code = -1 if sys_idx is None else int(sys_idx)
        if self.calls and self.calls[-1][0] == code:
            self.calls[-1][1] += 1
        else:
            self.calls.append([code, 1])
        return self._data.get_batch(sys_idx)

    def replay(self, calls: List[List[int]]) -> None:
        """Repeat a logged call sequence (restores the sampler state)."""
        for code, count in calls:
            sys_idx = None if code < 0 else int(code)
            for _ in range(int(count)):
                self.get_batch(sys_idx)


@dataclass
class TrainerState:
    """What a restart needs besides the TF variables.

    Attributes
    ----------
    seed
        Base seed of every stream.
    head_rng
        ``bit_generator.state`` of the head-choice generator.
    data_calls
        Stream name (``<head>/train``, ``<head>/valid``) -> call log.
    """

    seed: int
    head_rng: Optional[dict] = None
    data_calls: Dict[str, List[List[int]]] = field(default_factory=dict)

    def to_json(self) -> str:
        """Compact JSON text (stored in the ``trainer/state`` variable)."""
        return json.dumps({"format": _FORMAT, "seed": self.seed, "head_rng": self.head_rng,
                           "data_calls": self.data_calls}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text) -> Optional["TrainerState"]:
        """Parse a stored state; None for an empty or foreign string."""
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if not text:
            return None
        try:
            raw = json.loads(text)
        except ValueError:
            return None
        if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
            return None
        return cls(seed=int(raw["seed"]), head_rng=raw.get("head_rng"),
                   data_calls={k: [list(map(int, c)) for c in v]
                               for k, v in raw.get("data_calls", {}).items()})


class HeadSampler:
    """Draws the head trained at each step, by normalized weight.

    Parameters
    ----------
    heads
        Names of the heads that are trained (weight > 0 and data).
    weights
        Their weights (normalized here).
    rng
        The head-choice generator.
    """

    def __init__(self, heads: List[str], weights: List[float], rng: np.random.Generator):
        self.heads = list(heads)
        probs = np.asarray(weights, dtype=np.float64)
        self.cdf = np.cumsum(probs / probs.sum())
        self.cdf[-1] = 1.0
        self.rng = rng

    def draw(self) -> str:
        """Name of the head to train now (no draw when there is one head)."""
        if len(self.heads) == 1:
            return self.heads[0]
        return self.heads[int(np.searchsorted(self.cdf, self.rng.random(), side="right"))]

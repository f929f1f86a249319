"""Batches drawn from several systems: :class:`MultiSystemData`, :func:`build_data`.

Every call of :meth:`MultiSystemData.get_batch` draws one system with the
system probabilities, then takes that system's next batch; frames of
different systems are never mixed in a batch.
"""

from __future__ import annotations

import logging
from typing import Optional, Sequence, Union

import numpy as np

from deepmt.data.discover import expand_systems
from deepmt.data.probability import key_path, resolve_batch_sizes, resolve_probs
from deepmt.data.requirement import DataRequirement
from deepmt.data.system import DataSystem
from deepmt.errors import DataError

log = logging.getLogger(__name__)

RngLike = Union[None, int, np.random.Generator]


def as_rng(rng: RngLike) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator, a seed or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


class MultiSystemData:
    """The systems of one data block (one head's training or validation data).

    Parameters
    ----------
    systems
        System paths, :class:`DataSystem` objects, or a root path searched
        recursively.
    batch_size
        int, list (one per system), ``"auto"`` or ``"auto:N"``.
    type_map
        Model type names (None: raw type ids).
    requirements
        Labels read for this block.
    auto_prob, sys_probs
        System probabilities (``sys_probs`` wins when given).
    rng
        Generator or seed: drives the system draws and the frame shuffles.
    set_prefix
        Prefix of the set folders.
    where
        Key path for error messages (``training.training_data``).

    Attributes
    ----------
    systems : list of DataSystem
    batch_sizes : list of int
    nbatches : list of int
        ``sum over sets of max(1, nframes_set // bs)`` per system.
    system_probs : np.ndarray
        ``[nsystems]``, sums to 1.
    numb_btch : int
        batches per validation pass (set by :func:`build_data`; default 1).
    """

    def __init__(self, systems, batch_size="auto", type_map: Optional[Sequence[str]] = None,
                 requirements: Sequence[DataRequirement] = (), auto_prob: str = "prob_sys_size",
                 sys_probs: Optional[Sequence[float]] = None, rng: RngLike = None,
                 set_prefix: str = "set", where: str = "data"):
        self.where = where
        self.type_map = None if type_map is None else list(type_map)
        self.systems = self._open(systems, requirements, set_prefix)
        self.ntypes = self._common_ntypes()
        natoms = [s.natoms for s in self.systems]
        self.batch_sizes, auto = resolve_batch_sizes(batch_size, natoms,
                                                       key_path(where, "batch_size"))
        self.nbatches = [s.nbatch(bs) for s, bs in zip(self.systems, self.batch_sizes)]
        self.system_probs = resolve_probs(auto_prob, sys_probs, self.nbatches, where)
        self._cdf = np.cumsum(self.system_probs)
        self._cdf[-1] = 1.0
        self.rng = as_rng(rng)
        self.numb_btch = 1
        if not auto:
            self._warn_short_sets()

    def _open(self, systems, requirements, set_prefix):
        if isinstance(systems, DataSystem):
            systems = [systems]
        if not isinstance(systems, (list, tuple)) or not all(isinstance(s, DataSystem)
                                                             for s in systems):
            systems = expand_systems(systems, key_path(self.where, "systems"))
        opened = [s if isinstance(s, DataSystem)
                  else DataSystem(s, self.type_map, requirements, set_prefix)
                  for s in systems]
        if not opened:
            raise DataError(f"{key_path(self.where, 'systems')} is empty: give at least one "
                            "data system.")
        return opened

    def _common_ntypes(self) -> int:
        ntypes = max(s.ntypes for s in self.systems)
        for system in self.systems:
            system.set_ntypes(ntypes)
        return ntypes

    def _warn_short_sets(self) -> None:
        for system, bs in zip(self.systems, self.batch_sizes):
            for info in system.sets:
                if info.nframes < bs:
                    log.warning("%s: set %s of %s has %d frames, fewer than the batch "
                                "size %d; its batches hold the whole set",
                                self.where, info.name, system.path, info.nframes, bs)

    @property
    def nsystems(self) -> int:
        return len(self.systems)

    def draw_system(self) -> int:
        """Index of a system drawn with :attr:`system_probs`."""
        return int(np.searchsorted(self._cdf, self.rng.random(), side="right"))

    def get_batch(self, sys_idx: Optional[int] = None) -> dict:
        """Next batch of system ``sys_idx`` (drawn when None).

        Returns
        -------
        dict
            :meth:`DataSystem.get_batch`'s keys plus ``sys_idx``.
        """
        if sys_idx is None:
            sys_idx = self.draw_system()
        batch = self.systems[sys_idx].get_batch(self.batch_sizes[sys_idx], self.rng)
        batch["sys_idx"] = int(sys_idx)
        return batch

    def __repr__(self) -> str:
        return (f"MultiSystemData({self.where}: {self.nsystems} systems, "
                f"{sum(s.nframes for s in self.systems)} frames)")


def build_data(data_cfg: dict, type_map: Optional[Sequence[str]],
               requirements: Sequence[DataRequirement], rng: RngLike = None,
               where: str = "training_data") -> MultiSystemData:
    """A :class:`MultiSystemData` from a normalized ``training_data`` /
    ``validation_data`` dict.

    Parameters
    ----------
    data_cfg
        Keys ``systems``, ``set_prefix``, ``batch_size``, ``auto_prob``,
        ``sys_probs``, and for validation ``numb_btch`` (canonical names).
    type_map
        Model type names.
    requirements
        The head's data requirements.
    rng
        Generator or seed.
    where
        Key path used in error messages.
    """
    data = MultiSystemData(
        data_cfg.get("systems", []),
        batch_size=data_cfg.get("batch_size", "auto"),
        type_map=type_map,
        requirements=requirements,
        auto_prob=data_cfg.get("auto_prob", "prob_sys_size"),
        sys_probs=data_cfg.get("sys_probs"),
        rng=rng,
        set_prefix=data_cfg.get("set_prefix", "set"),
        where=where,
    )
    data.numb_btch = int(data_cfg.get("numb_btch", 1) or 1)
    return data

"""One data system: :class:`DataSystem`.

A system is a folder (or HDF5 group) of frames that share the atom count and
the atom types: ``type.raw``, optional ``type_map.raw`` and ``nopbc``, and
``set.*`` folders of ``.npy`` files (see ``doc/data.md``). Opening a system
reads ``type.raw`` and the file headers only; a set's arrays are loaded (npy
files larger than :data:`deepmt.data.storage.INMEMORY_MAX_BYTES` are
memory-mapped) when the iterator enters it, and only that set is kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from deepmt.data.columns import Column, box_column, coord_column, label_columns
from deepmt.data.requirement import DataRequirement, merge_requirements
from deepmt.data.storage import Storage, open_storage
from deepmt.errors import DataError


@dataclass
class SetInfo:
    """A set as found on disk: name, frame count, per-frame size of each file."""

    name: str
    nframes: int
    sizes: Dict[str, int] = field(default_factory=dict)


@dataclass
class _LoadedSet:
    info: SetInfo
    arrays: Dict[str, np.ndarray]
    frames: np.ndarray  # frame indices, each repeated numb_copy times


class DataSystem:
    """Frames of one system, with labels named by data requirements.

    Parameters
    ----------
    path
        System folder (npy or raw layout) or ``file.h5#/group``.
    type_map
        Model type names; atom types are re-mapped by name from the system's
        ``type_map.raw``. None keeps the raw type ids.
    requirements
        Labels to read (:class:`DataRequirement`), e.g. one head's needs.
    set_prefix
        Sets are the sub-folders ``<set_prefix>.*``, in sorted order.
    ntypes
        Model type count when ``type_map`` is None (default: largest id + 1).

    Attributes
    ----------
    natoms : int
    nframes : int
        frames over all sets.
    pbc : bool
        False when the system has a ``nopbc`` marker (its boxes are ignored).
    atom_types : np.ndarray
        int32 ``[natoms]``, model type ids in the user's (``type.raw``) order.
    sort_index : np.ndarray
        ``[natoms]`` stable type sort: ``sorted_atoms = atoms[sort_index]``.
    inverse_index : np.ndarray
        ``[natoms]``: ``atoms = sorted_atoms[inverse_index]``.
    sets : list of SetInfo
    """

    def __init__(self, path, type_map: Optional[Sequence[str]] = None,
                 requirements: Sequence[DataRequirement] = (), set_prefix: str = "set",
                 ntypes: Optional[int] = None):
        self.path = os.fspath(path)
        self.set_prefix = set_prefix
        self.storage: Storage = open_storage(self.path, set_prefix)
        self.type_map = None if type_map is None else [str(t) for t in type_map]
        self.atom_types = self._read_atom_types()
        self.natoms = int(self.atom_types.size)
        self.ntypes = 0
        self.set_ntypes(len(self.type_map) if self.type_map is not None else ntypes)
        self.pbc = not self.storage.has_nopbc()
        self.sort_index = np.argsort(self.atom_types, kind="stable")
        self.inverse_index = np.argsort(self.sort_index, kind="stable")
        self.sorted_types = self.atom_types[self.sort_index]
        self.requirements = merge_requirements(requirements)
        self._coord = coord_column(self.atom_types)
        self._box = box_column(self.atom_types)
        self._labels: tuple = label_columns(self.requirements, self.atom_types)
        self.sets: List[SetInfo] = [self._scan_set(name) for name in self._set_names()]
        self.nframes = sum(s.nframes for s in self.sets)
        self.reset()

    # ------------------------------------------------------------------ set-up
    def _read_atom_types(self) -> np.ndarray:
        raw = self.storage.read_types()
        if raw is None:
            raise DataError(
                f"data system {self.path!r} has no type.raw "
                f"({self.storage.where(None, 'type.raw')}); a system folder needs type.raw "
                "(one atom type per atom) and set.* folders. A folder holding several "
                "systems must be given as a string (searched recursively), not in a list.")
        names = self.storage.read_type_map()
        where = self.storage.where(None, "type_map.raw")
        if names is not None and raw.max() >= len(names):
            raise DataError(
                f"data system {self.path!r}: type.raw uses type {raw.max()} but {where} "
                f"lists only {len(names)} element(s) {names}.")
        if self.type_map is None:
            return raw.astype(np.int32)
        if names is None:
            if raw.max() >= len(self.type_map):
                raise DataError(
                    f"data system {self.path!r}: type.raw uses type {raw.max()} but the model "
                    f"type_map has {len(self.type_map)} element(s) {self.type_map}; add a "
                    "type_map.raw to the system or extend model.type_map.")
            return raw.astype(np.int32)
        missing = sorted({names[t] for t in np.unique(raw)} - set(self.type_map))
        if missing:
            raise DataError(
                f"data system {self.path!r}: element(s) {missing} of {where} are not in the "
                f"model type_map {self.type_map}; add them to model.type_map.")
        lookup = np.array([self.type_map.index(n) if n in self.type_map else -1 for n in names])
        return lookup[raw].astype(np.int32)

    def set_ntypes(self, ntypes: Optional[int]) -> None:
        """Set the model type count (the length of ``natoms_vec`` is 2 + it)."""
        need = int(self.atom_types.max()) + 1
        ntypes = need if ntypes is None else int(ntypes)
        if ntypes < need:
            raise DataError(f"data system {self.path!r} uses type {need - 1} but the model "
                            f"has only {ntypes} type(s).")
        self.ntypes = ntypes
        counts = np.bincount(self.atom_types, minlength=ntypes)
        self._natoms_vec = np.concatenate([[self.natoms, self.natoms], counts]).astype(np.int32)

    @property
    def natoms_vec(self) -> np.ndarray:
        """int32 ``[2 + ntypes]``: ``[natoms, natoms, n_0, n_1, ...]`` (a copy)."""
        return self._natoms_vec.copy()

    def _set_names(self) -> List[str]:
        names = self.storage.set_names()
        if not names:
            raise DataError(
                f"data system {self.path!r} has no set: no '{self.set_prefix}.*' folder "
                f"(with coord.npy) in {self.path} and no coord.raw.")
        return names

    def _scan_set(self, name: str) -> SetInfo:
        where = self.storage.where
        coord_where = where(name, "coord.npy")
        shape = self.storage.shape(name, "coord")
        if shape is None:
            raise DataError(f"data system {self.path!r}: set {name} has no coordinates "
                            f"({coord_where} is missing).")
        size, per_frame = int(np.prod(shape)), self.natoms * 3
        nframes = shape[0] if len(shape) >= 2 else (1 if size == per_frame else -1)
        if nframes < 1 or size != nframes * per_frame:
            raise DataError(
                f"data system {self.path!r}: {coord_where} has shape {tuple(shape)}, which "
                f"is not frames x atoms x 3 with {self.natoms} atoms (type.raw) and at "
                "least one frame.")
        info = SetInfo(name, int(nframes), {"coord": per_frame})
        if self.pbc:
            box = self.storage.shape(name, "box")
            if box is None:
                raise DataError(
                    f"data system {self.path!r} is periodic but set {name} has no box "
                    f"({where(name, 'box.npy')} is missing); add the cells, or an empty "
                    f"file 'nopbc' in the system folder if it is not periodic.")
            info.sizes["box"] = self._box.check_shape(box, nframes, where(name, "box.npy"),
                                                      coord_where)
        for column in self._labels:
            self._scan_label(info, column, coord_where)
        copies = self.storage.shape(name, "numb_copy")
        if copies is not None:
            if int(np.prod(copies)) != nframes:
                raise DataError(f"{where(name, 'numb_copy.npy')} must hold one integer "
                                f"per frame ({nframes}); it has shape {tuple(copies)}.")
            info.sizes["numb_copy"] = 1
        return info

    def _scan_label(self, info: SetInfo, column: Column, coord_where: str) -> None:
        file = self.storage.where(info.name, column.key + ".npy")
        shape = self.storage.shape(info.name, column.key)
        if shape is None:
            if column.req.must:
                raise DataError(
                    f"data system {self.path!r}: set {info.name} lacks {file}, which the "
                    f"model requires (e.g. numb_fparam/numb_aparam > 0 needs fparam/aparam).")
            return
        info.sizes[column.key] = column.check_shape(shape, info.nframes, file, coord_where)

    # ----------------------------------------------------------------- loading
    def _load_set(self, info: SetInfo) -> _LoadedSet:
        arrays = {}
        for key, size in info.sizes.items():
            array = self.storage.load(info.name, key)
            arrays[key] = array.reshape(info.nframes, size)
        frames = np.arange(info.nframes)
        if "numb_copy" in arrays:
            copies = np.asarray(arrays.pop("numb_copy")).reshape(-1).astype(np.int64)
            frames = np.repeat(frames, np.maximum(copies, 0))
            if frames.size == 0:
                raise DataError(f"{self.storage.where(info.name, 'numb_copy.npy')} leaves "
                                "no frame (every count is 0).")
        return _LoadedSet(info, arrays, frames)

    def _take(self, data: _LoadedSet, column: Column, idx: np.ndarray) -> np.ndarray:
        out = column.take(data.arrays[column.key][idx], data.info.sizes[column.key])
        finite = np.isfinite(out)
        if not finite.all():
            row = int(np.flatnonzero(~finite.all(axis=1))[0])
            file = self.storage.where(data.info.name, column.key + ".npy")
            raise DataError(
                f"data system {self.path!r}: {file} has a NaN or infinite value in frame "
                f"{int(idx[row])} (0-based, in that file).")
        return out

    def _check_boxes(self, data: _LoadedSet, box: np.ndarray, idx: np.ndarray) -> None:
        volume = np.linalg.det(box.reshape(-1, 3, 3))
        bad = np.flatnonzero(np.abs(volume) < 1e-8)
        if bad.size:
            file = self.storage.where(data.info.name, "box.npy")
            raise DataError(
                f"data system {self.path!r}: the cell of frame {int(idx[bad[0]])} in {file} "
                "has zero volume; give the three cell vectors as rows, or mark the system "
                "non-periodic with an empty 'nopbc' file.")

    def _make_batch(self, data: _LoadedSet, idx: np.ndarray) -> dict:
        nb = idx.size
        batch = {"coord": self._take(data, self._coord, idx)}
        if self.pbc:
            batch["box"] = self._take(data, self._box, idx)
            self._check_boxes(data, batch["box"], idx)
        else:
            batch["box"] = np.zeros((nb, 9))
        batch["type"] = np.tile(self.sorted_types, (nb, 1))
        batch["natoms_vec"] = self.natoms_vec
        batch["pbc"] = self.pbc
        for column in self._labels:
            found = column.key in data.arrays
            batch[column.key] = self._take(data, column, idx) if found else column.fill(nb)
            batch["find_" + column.key] = 1.0 if found else 0.0
        return batch

    # --------------------------------------------------------------- iteration
    def reset(self) -> None:
        """Forget the iterator state (the next batch enters the first set)."""
        self._loaded: Optional[_LoadedSet] = None
        self._order = np.zeros(0, dtype=np.int64)
        self._pos = 0
        self._entered = 0

    def nbatch(self, batch_size: int) -> int:
        """Batches per pass: ``sum over sets of max(1, nframes_set // batch_size)``."""
        return sum(max(1, s.nframes // batch_size) for s in self.sets)

    def _enter_next_set(self, rng: np.random.Generator) -> None:
        info = self.sets[self._entered % len(self.sets)]
        if self._loaded is None or self._loaded.info is not info:
            self._loaded = None  # release the previous set before loading
            self._loaded = self._load_set(info)
        self._entered += 1
        self._order = rng.permutation(self._loaded.frames)
        self._pos = 0

    def get_batch(self, batch_size: int, rng: Optional[np.random.Generator] = None) -> dict:
        """Next ``batch_size`` frames of the current set (see ``doc/data.md``).

        Sets are visited cyclically and reshuffled on every entry; a remainder
        shorter than ``batch_size`` is dropped; a set shorter than
        ``batch_size`` yields the whole set.

        Returns
        -------
        dict
            ``coord`` ``bs x natoms*3``, ``box`` ``bs x 9``, ``type``
            ``bs x natoms``, ``natoms_vec``, ``pbc``, and ``<key>`` /
            ``find_<key>`` for every requirement (atoms sorted by type).
        """
        if rng is None:
            rng = np.random.default_rng()
        if self._pos + batch_size > self._order.size:
            self._enter_next_set(rng)
        stop = min(self._pos + batch_size, self._order.size)
        idx = self._order[self._pos:stop]
        self._pos += batch_size
        return self._make_batch(self._loaded, idx)

    def load_set(self, index: int) -> dict:
        """All frames of set ``index`` in file order, as a batch dict.

        Does not touch the iterator used by :meth:`get_batch`.
        """
        info = self.sets[index]
        return self._make_batch(self._load_set(info), np.arange(info.nframes))

    def iter_frames(self, chunk: int = 64) -> Iterator[Tuple[str, np.ndarray, dict]]:
        """Every frame of every set in file order, ``chunk`` frames at a time.

        Yields
        ------
        set_name : str
        frames : np.ndarray
            indices of the batch's frames in the set.
        batch : dict
            as :meth:`get_batch`.
        """
        for info in self.sets:
            data = self._load_set(info)
            for start in range(0, info.nframes, chunk):
                idx = np.arange(start, min(start + chunk, info.nframes))
                yield info.name, idx, self._make_batch(data, idx)

    def to_user_order(self, values: np.ndarray, ndof: int) -> np.ndarray:
        """Per-atom values in sorted order ``nf x natoms*ndof`` -> ``type.raw`` order."""
        values = np.asarray(values)
        shaped = values.reshape(-1, self.natoms, ndof)[:, self.inverse_index]
        return shaped.reshape(values.shape)

    def __repr__(self) -> str:
        return (f"DataSystem({self.path!r}, natoms={self.natoms}, nframes={self.nframes}, "
                f"nsets={len(self.sets)}, pbc={self.pbc})")

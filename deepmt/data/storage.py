"""Where the arrays of a system live: npy folders, raw text folders, HDF5.

A storage answers a few questions about one system (its ``type.raw``,
``type_map.raw``, ``nopbc`` marker, the names of its sets, the shape of a
file in a set) and loads one file of one set on request. Shapes are read from
file headers only, so opening a system costs no data I/O.

Layouts
-------
* ``deepmd/npy``: ``<sys>/set.*/<key>.npy``;
* ``deepmd/raw``: ``<sys>/<key>.raw``, one frame per line, a single set;
* HDF5: ``file.h5#/group`` with the npy tree stored as groups and datasets
  (``type.raw``, ``type_map.raw``, ``nopbc``, ``set.000/coord.npy``, ...),
  the layout dpdata writes.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from typing import List, Optional, Tuple

import numpy as np

from deepmt.errors import DataError

#: npy files up to this size are read whole when a set is entered; larger
#: ones are memory-mapped (a map keeps a file descriptor open)
INMEMORY_MAX_BYTES = 8 << 20

_H5_FILES = {}


def _parse_types(text: str, where: str) -> np.ndarray:
    try:
        types = np.array(text.split(), dtype=np.int64)
    except ValueError:
        raise DataError(f"{where} must hold one integer atom type per atom; "
                        "it contains something else.") from None
    if types.size == 0:
        raise DataError(f"{where} is empty: a system needs at least one atom.")
    if types.min() < 0:
        raise DataError(f"{where} holds a negative atom type ({types.min()}); "
                        "types are indices into type_map.raw, starting at 0.")
    return types


class Storage:
    """Base class: one system's files. ``path`` is the user's spelling."""

    kind = "?"

    def __init__(self, path: str, set_prefix: str):
        self.path = path
        self.set_prefix = set_prefix

    def read_types(self) -> Optional[np.ndarray]:
        """``type.raw`` as int64 ``[natoms]``, or None when absent."""
        text = self._read_text("type.raw")
        return None if text is None else _parse_types(text, self.where(None, "type.raw"))

    def read_type_map(self) -> Optional[List[str]]:
        """Names in ``type_map.raw``, or None when absent."""
        text = self._read_text("type_map.raw")
        return None if text is None else text.split()

    def where(self, set_name: Optional[str], name: str) -> str:
        """Human-readable location of a file, for error messages."""
        raise NotImplementedError

    def _read_text(self, name: str) -> Optional[str]:
        raise NotImplementedError

    def has_nopbc(self) -> bool:
        raise NotImplementedError

    def set_names(self) -> List[str]:
        raise NotImplementedError

    def shape(self, set_name: str, key: str) -> Optional[Tuple[int, ...]]:
        """Shape of ``<key>`` in a set, or None if the set lacks it."""
        raise NotImplementedError

    def load(self, set_name: str, key: str) -> np.ndarray:
        """The array of ``<key>`` in a set (possibly a read-only memory map)."""
        raise NotImplementedError


class NpyStorage(Storage):
    """``deepmd/npy`` folder: ``set.*/<key>.npy``."""

    kind = "npy"

    def where(self, set_name, name):
        parts = [self.path] + ([set_name] if set_name else []) + [name]
        return os.path.join(*parts)

    def _read_text(self, name):
        file = os.path.join(self.path, name)
        if not os.path.isfile(file):
            return None
        with open(file, encoding="utf-8") as handle:
            return handle.read()

    def has_nopbc(self):
        return os.path.exists(os.path.join(self.path, "nopbc"))

    def set_names(self):
        found = glob.glob(os.path.join(glob.escape(self.path), self.set_prefix + ".*"))
        return sorted(os.path.basename(f) for f in found if os.path.isdir(f))

    def shape(self, set_name, key):
        file = self.where(set_name, key + ".npy")
        if not os.path.isfile(file):
            return None
        try:
            with open(file, "rb") as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        except (ValueError, OSError) as err:
            raise DataError(f"{file} is not a readable .npy file ({err}).") from None
        if dtype.hasobject or dtype.kind not in "biuf":
            raise DataError(f"{file} holds {dtype} values; a numeric array is expected.")
        return tuple(shape)

    def load(self, set_name, key):
        file = self.where(set_name, key + ".npy")
        mode = "r" if os.path.getsize(file) > INMEMORY_MAX_BYTES else None
        try:
            return np.load(file, mmap_mode=mode, allow_pickle=False)
        except (ValueError, OSError) as err:
            raise DataError(f"{file} cannot be read ({err}).") from None


class RawStorage(Storage):
    """``deepmd/raw`` folder: ``<key>.raw`` text files, one frame a line."""

    kind = "raw"
    SET = "."

    def where(self, set_name, name):
        if name.endswith(".npy"):
            name = name[:-4] + ".raw"
        return os.path.join(self.path, name)

    _read_text = NpyStorage._read_text
    has_nopbc = NpyStorage.has_nopbc

    def set_names(self):
        return [self.SET]

    def shape(self, set_name, key):
        file = os.path.join(self.path, key + ".raw")
        if not os.path.isfile(file):
            return None
        nlines, first = 0, None
        with open(file, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    nlines += 1
                    first = line if first is None else first
        return (nlines, len(first.split()) if first else 0)

    def load(self, set_name, key):
        file = os.path.join(self.path, key + ".raw")
        try:
            return np.loadtxt(file, ndmin=2)
        except ValueError as err:
            raise DataError(f"{file} cannot be read as a table of numbers, one frame "
                            f"per line ({err}).") from None


class H5Storage(Storage):
    """A group of an HDF5 file laid out like a npy system."""

    kind = "h5"

    def __init__(self, path, set_prefix, file, group):
        super().__init__(path, set_prefix)
        self.file, self.group_name = file, group or "/"
        self.group = open_h5(file)[self.group_name]

    def where(self, set_name, name):
        inner = "/".join(p for p in (self.group_name.rstrip("/"), set_name, name) if p)
        return f"{self.file}#{inner if inner.startswith('/') else '/' + inner}"

    def read_types(self):
        if "type.raw" not in self.group:
            return None
        text = " ".join(str(int(v)) for v in np.ravel(self.group["type.raw"][()]))
        return _parse_types(text, self.where(None, "type.raw"))

    def read_type_map(self):
        if "type_map.raw" not in self.group:
            return None
        values = np.ravel(self.group["type_map.raw"][()])
        return [v.decode() if isinstance(v, bytes) else str(v) for v in values]

    def has_nopbc(self):
        return "nopbc" in self.group

    def set_names(self):
        return sorted(k for k in self.group.keys()
                      if fnmatch.fnmatchcase(k, self.set_prefix + ".*")
                      and hasattr(self.group[k], "keys"))

    def shape(self, set_name, key):
        group = self.group[set_name]
        name = key + ".npy"
        return tuple(group[name].shape) if name in group else None

    def load(self, set_name, key):
        return np.asarray(self.group[set_name][key + ".npy"][()])


def open_h5(file: str):
    """Open (once, read-only) and return an ``h5py.File``."""
    import h5py

    real = os.path.realpath(file)
    handle = _H5_FILES.get(real)
    if handle is None:
        try:
            handle = h5py.File(real, "r")
        except OSError as err:
            raise DataError(f"{file} cannot be opened as an HDF5 file ({err}).") from None
        _H5_FILES[real] = handle
    return handle


def split_h5_path(path: str) -> Optional[Tuple[str, str]]:
    """``"a.h5#/g"`` -> ``("a.h5", "/g")``; a bare HDF5 file -> ``(file, "/")``;
    anything else -> None."""
    if "#" in path:
        file, group = path.split("#", 1)
        return file, group or "/"
    if os.path.isfile(path) and _is_hdf5(path):
        return path, "/"
    return None


def _is_hdf5(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8) == b"\x89HDF\r\n\x1a\n"


def open_storage(path: str, set_prefix: str = "set") -> Storage:
    """Pick the storage class for a system path.

    Raises
    ------
    DataError
        The path (or the HDF5 file or group) does not exist.
    """
    path = os.fspath(path)
    h5 = split_h5_path(path)
    if h5 is not None:
        file, group = h5
        if not os.path.isfile(file):
            raise DataError(f"data system {path!r}: HDF5 file {file!r} does not exist.")
        if group not in open_h5(file):
            raise DataError(f"data system {path!r}: HDF5 file {file!r} has no group {group!r}.")
        return H5Storage(path, set_prefix, file, group)
    if not os.path.isdir(path):
        raise DataError(f"data system {path!r} does not exist (or is not a folder).")
    npy = NpyStorage(path, set_prefix)
    if not npy.set_names() and os.path.isfile(os.path.join(path, "coord.raw")):
        return RawStorage(path, set_prefix)
    return npy

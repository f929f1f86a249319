"""Turn a ``systems`` entry into a list of system paths.

* a list: every entry is one system (folder or ``file.h5#/group``); a bare
  HDF5 file stands for all the systems it holds;
* a string: a folder searched recursively for systems (folders holding
  ``type.raw``), an HDF5 file (all its groups holding ``type.raw``), or
  ``file.h5#/group`` (that group, or the systems below it).

Paths are returned sorted, so block probabilities (``prob_sys_size;a:b:w``)
refer to a stable order.
"""

from __future__ import annotations

import os
from typing import List, Sequence, Union

from deepmt.data.storage import open_h5, split_h5_path
from deepmt.errors import DataError


def _h5_systems(file: str, group: str, where: str) -> List[str]:
    handle = open_h5(file)
    if group not in handle:
        raise DataError(f"{where}: HDF5 file {file!r} has no group {group!r}.")
    found = []

    def visit(name, obj):
        if hasattr(obj, "keys") and "type.raw" in obj:
            found.append(obj.name)

    root = handle[group]
    if "type.raw" in root:
        return [f"{file}#{root.name}"]
    root.visititems(visit)
    return [f"{file}#{name}" for name in sorted(found)]


def _folder_systems(root: str) -> List[str]:
    found = []
    for folder, subdirs, files in os.walk(root, followlinks=True):
        subdirs.sort()
        if "type.raw" in files:
            found.append(folder)
    return sorted(found)


def _expand_one(path: str, where: str, recursive: bool) -> List[str]:
    h5 = split_h5_path(path)
    if h5 is not None:
        file, group = h5
        if not os.path.isfile(file):
            raise DataError(f"{where}: HDF5 file {file!r} does not exist.")
        return _h5_systems(file, group, where)
    if not os.path.exists(path):
        raise DataError(f"{where}: the path {path!r} does not exist "
                        f"(relative paths are taken from {os.getcwd()!r}).")
    if not recursive:
        return [path]
    found = _folder_systems(path)
    if not found:
        raise DataError(f"{where}: no data system found under {path!r} (a system is a "
                        "folder holding type.raw and set.* folders).")
    return found


def expand_systems(systems: Union[str, os.PathLike, Sequence[str]],
                   where: str = "systems") -> List[str]:
    """Expand a ``systems`` value into system paths.

    Parameters
    ----------
    systems
        A root folder / HDF5 path (searched recursively), or a list of systems.
    where
        Key path used in error messages (``training.training_data.systems``).

    Raises
    ------
    DataError
        A path does not exist, or no system is found, or the list is empty.
    """
    if isinstance(systems, (str, os.PathLike)):
        paths = _expand_one(os.fspath(systems), where, recursive=True)
    else:
        paths = []
        for entry in systems:
            if not isinstance(entry, (str, os.PathLike)):
                raise DataError(f"{where}: entries must be paths (strings), got {entry!r}.")
            paths += _expand_one(os.fspath(entry), where, recursive=False)
    if not paths:
        raise DataError(f"{where} is empty: give at least one data system.")
    return paths

"""Convert anything dpdata reads into ``deepmd/npy`` systems.

The parsing is dpdata's; this module adds the checks, the ``type_map``
ordering and an optional random train/validation split of the frames.
"""

from __future__ import annotations

import difflib
import logging
import os
from typing import Dict, Optional, Sequence

import numpy as np

from deepmt.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: formats whose files hold type indices only; type_map names them
_INDEXED_FORMATS = {"lammps/dump", "dump", "lammps/lmp", "lmp"}


def _check_format(fmt: str) -> None:
    from dpdata.format import Format

    known = sorted(Format.get_formats())
    if fmt not in known:
        hint = difflib.get_close_matches(fmt, known, n=3)
        extra = f" Did you mean {', '.join(repr(h) for h in hint)}?" if hint else ""
        raise DataError(f"unknown input format {fmt!r} (-f/--fmt).{extra} dpdata reads: "
                        f"{', '.join(known)}.")


def load_dpdata(path: str, fmt: str, type_map: Optional[Sequence[str]] = None):
    """Read ``path`` with dpdata as a labelled system, or as a plain one.

    Raises
    ------
    DataError
        Unknown format, missing file, a parser failure, or an element absent
        from ``type_map``.
    """
    import dpdata

    _check_format(fmt)
    if not os.path.exists(path):
        raise DataError(f"input {path!r} does not exist.")
    indexed = fmt in _INDEXED_FORMATS
    kwargs = {"type_map": list(type_map)} if (type_map and indexed) else {}
    failures = []
    for cls in (dpdata.LabeledSystem, dpdata.System):
        try:
            system = cls(path, fmt=fmt, **kwargs)
            break
        except Exception as err:  # noqa: BLE001 - third-party parsers raise anything
            failures.append(f"{cls.__name__}: {type(err).__name__}: {err}")
    else:
        raise DataError(f"dpdata could not read {path!r} as {fmt!r} ({'; '.join(failures)}).")
    if type_map and not indexed:
        _apply_type_map(system, list(type_map), path)
    if system.get_nframes() == 0:
        raise DataError(f"{path!r} read as {fmt!r} holds no frame.")
    return system


def _apply_type_map(system, type_map, path: str) -> None:
    names, numbs = system.get_atom_names(), system.get_atom_numbs()
    missing = [n for n, c in zip(names, numbs) if c > 0 and n not in type_map]
    if missing:
        raise DataError(f"{path!r} has element(s) {missing} that are not in --type-map "
                        f"{type_map}.")
    system.apply_type_map(type_map)


def split_frames(nframes: int, fraction: float, seed: Optional[int]) -> Dict[str, np.ndarray]:
    """Random train/valid split: ``max(1, round(fraction * nframes))`` frames
    go to ``valid``; both index lists are sorted."""
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"--split must be between 0 and 1 (exclusive), got {fraction}.")
    nvalid = max(1, int(round(fraction * nframes)))
    if nvalid >= nframes:
        raise DataError(f"cannot split {nframes} frame(s) with --split {fraction}: both the "
                        "training and the validation part need at least one frame.")
    perm = np.random.default_rng(seed).permutation(nframes)
    return {"train": np.sort(perm[nvalid:]), "valid": np.sort(perm[:nvalid])}


def convert(path: str, fmt: str, outdir: str, type_map: Optional[Sequence[str]] = None,
            split: float = 0.0, seed: Optional[int] = None) -> Dict[str, int]:
    """Write ``path`` (format ``fmt``) as a deepmd/npy system.

    Parameters
    ----------
    path, fmt
        Input file/folder and its dpdata format name (``vasp/outcar``, ...).
    outdir
        Output folder (must not exist or be empty). With ``split`` the
        systems go to ``outdir/train`` and ``outdir/valid``.
    type_map
        Element order of ``type_map.raw``.
    split
        Fraction of frames for validation (0: no split).
    seed
        Seed of the split.

    Returns
    -------
    dict
        output folder -> frames written.
    """
    if os.path.exists(outdir) and (not os.path.isdir(outdir) or os.listdir(outdir)):
        raise DataError(f"output {outdir!r} exists and is not an empty folder; choose a new "
                        "folder (converting into old data would mix sets).")
    system = load_dpdata(path, fmt, type_map)
    nframes = system.get_nframes()
    if not split:
        system.to("deepmd/npy", outdir)
        return {outdir: nframes}
    written = {}
    for part, idx in split_frames(nframes, split, seed).items():
        target = os.path.join(outdir, part)
        system.sub_system(idx).to("deepmd/npy", target)
        written[target] = int(idx.size)
    return written

"""Rebuild the tiny water systems used by tests/train from the full data.

Usage: python regenerate.py /path/to/water   (the folder holding ener/,
dipole/, polar/ in the deepmd/npy layout).  Keeps the first frames of a
few systems so that the whole folder stays around 200 KB.
"""

import shutil
import sys
from pathlib import Path

import numpy as np

#: (source system, target name, frames kept)
SYSTEMS = [
    ("ener/data_0", "ener/train", 4),
    ("ener/data_2", "ener/valid", 2),
    ("dipole/atomic_system", "dipole/atomic", 4),
    ("dipole/global_system", "dipole/global", 2),
    ("polar/atomic_system", "polar/atomic", 4),
    ("polar/global_system", "polar/global", 2),
]


def copy_system(src: Path, dst: Path, nframes: int) -> None:
    """Copy type files, markers and the first ``nframes`` of set.000."""
    (dst / "set.000").mkdir(parents=True, exist_ok=True)
    for name in ("type.raw", "type_map.raw", "nopbc"):
        if (src / name).exists():
            shutil.copy(src / name, dst / name)
    for array in sorted((src / "set.000").glob("*.npy")):
        np.save(dst / "set.000" / array.name, np.load(array)[:nframes])


def main(root: str) -> None:
    here = Path(__file__).resolve().parent
    for src, dst, nframes in SYSTEMS:
        copy_system(Path(root) / src, here / dst, nframes)


if __name__ == "__main__":
    main(sys.argv[1])

"""Test geometries: random triclinic cells, clusters, water frames, rotations.

Random coordinates keep a minimum pair distance (images included) so that
descriptors stay moderate and float32 distance ties are (practically)
impossible; the oracle still reports ties if one happens.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
WATER_DIR = os.path.join(DATA_DIR, "water_192")


@dataclass
class System:
    """One or more frames of the same atoms.

    Attributes
    ----------
    coord : ndarray
        ``nf x (nat*3)`` float64, Å.
    atype : ndarray
        ``nat`` int32 types (any order).
    box : ndarray or None
        ``nf x 9`` float64 cells (rows = cell vectors), ``None`` = no PBC.
    """

    coord: np.ndarray
    atype: np.ndarray
    box: Optional[np.ndarray]

    @property
    def nframes(self) -> int:
        return self.coord.shape[0]

    @property
    def natoms(self) -> int:
        return len(self.atype)


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A random proper rotation matrix ``3 x 3`` (det = +1)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def random_box(rng: np.random.Generator, lengths, tilt: float = 0.3,
               rotate: bool = True) -> np.ndarray:
    """Triclinic cell ``3 x 3`` (rows a, b, c) with edge scale ``lengths``.

    ``tilt`` scales random off-diagonal components (in units of the mean
    length); ``rotate`` turns the whole cell so no vector lies on an axis.
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    box = np.diag(lengths)
    low = np.tril(rng.uniform(-1.0, 1.0, size=(3, 3)), k=-1)
    box = box + tilt * lengths.mean() * low
    if rotate:
        box = box @ random_rotation(rng).T
    return box


def _min_image_dist2(pos: np.ndarray, others: np.ndarray, box: Optional[np.ndarray]):
    if len(others) == 0:
        return np.inf
    diff = others - pos
    if box is None:
        return np.min(np.sum(diff * diff, axis=1))
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=np.float64) @ box
    d = diff[:, None, :] + shifts[None, :, :]
    return np.min(np.sum(d * d, axis=2))


def random_positions(rng: np.random.Generator, nat: int, box: Optional[np.ndarray],
                     min_dist: float = 0.9, extent: float = 6.0) -> np.ndarray:
    """``nat x 3`` positions with pairwise (image) distance >= ``min_dist``.

    With ``box`` the atoms fill the cell; without, a cube of edge ``extent``.
    Some atoms are left outside the cell on purpose (fractional coordinates
    in [-0.5, 1.5)) so that wrapping is exercised.
    """
    pos = np.zeros((0, 3))
    tries = 0
    while len(pos) < nat:
        tries += 1
        if tries > 200 * nat:
            raise RuntimeError("random_positions: cannot place atoms; lower min_dist")
        if box is None:
            trial = rng.uniform(0.0, extent, size=3)
        else:
            frac = rng.uniform(0.0, 1.0, size=3)
            trial = frac @ box
        if _min_image_dist2(trial, pos, box) >= min_dist ** 2:
            pos = np.vstack([pos, trial])
    if box is not None:
        # move some atoms by whole lattice vectors: the op must wrap them back
        jumps = rng.integers(-1, 2, size=(nat, 3)) * (rng.uniform(size=(nat, 1)) < 0.3)
        pos = pos + jumps @ box
    return pos


def random_types(rng: np.random.Generator, nat: int, ntypes: int,
                 absent=(), shuffle: bool = True) -> np.ndarray:
    """``nat`` int32 types in ``[0, ntypes)`` skipping ``absent`` types.

    Every present type gets at least one atom; ``shuffle=False`` returns
    the types sorted.
    """
    present = [t for t in range(ntypes) if t not in absent]
    atype = np.array(present + list(rng.choice(present, size=nat - len(present))), dtype=np.int32)
    if shuffle:
        rng.shuffle(atype)
    else:
        atype.sort()
    return atype


def random_system(rng: np.random.Generator, nat: int, ntypes: int, *, lengths=None,
                  nframes: int = 1, tilt: float = 0.3, absent=(), min_dist: float = 0.9,
                  extent: float = 6.0, shuffle: bool = True) -> System:
    """Random frames: periodic triclinic if ``lengths`` is given, else a cluster."""
    atype = random_types(rng, nat, ntypes, absent, shuffle)
    coords, boxes = [], []
    for _ in range(nframes):
        box = None if lengths is None else random_box(rng, lengths, tilt)
        coords.append(random_positions(rng, nat, box, min_dist, extent).reshape(-1))
        boxes.append(box)
    box_arr = None if lengths is None else np.stack([b.reshape(9) for b in boxes])
    return System(np.stack(coords), atype, box_arr)


def water_system(nframes: int = 2) -> System:
    """The shipped water frames (``tests/data/water_192``) as float64."""
    coord = np.load(os.path.join(WATER_DIR, "set.000", "coord.npy")).astype(np.float64)
    box = np.load(os.path.join(WATER_DIR, "set.000", "box.npy")).astype(np.float64)
    atype = np.loadtxt(os.path.join(WATER_DIR, "type.raw"), dtype=np.int32).reshape(-1)
    return System(coord[:nframes], atype, box[:nframes])


def random_stats(rng: np.random.Generator, ntypes: int, nnei: int, ncomp: int,
                 tiled: bool = False):
    """Random ``davg`` and positive ``dstd`` of shape ``ntypes x (nnei*ncomp)``.

    ``tiled`` repeats one ``ncomp`` pattern over all slots (as the
    statistics of a real descriptor do), which makes slots of equal
    neighbours interchangeable.
    """
    if tiled:
        avg = np.tile(rng.normal(0.0, 0.3, size=(ntypes, ncomp)), (1, nnei))
        std = np.tile(rng.uniform(0.2, 1.5, size=(ntypes, ncomp)), (1, nnei))
    else:
        avg = rng.normal(0.0, 0.3, size=(ntypes, nnei * ncomp))
        std = rng.uniform(0.2, 1.5, size=(ntypes, nnei * ncomp))
    return avg, std


def natoms_vector(atype: np.ndarray, ntypes: int, nloc: Optional[int] = None,
                  nall: Optional[int] = None) -> np.ndarray:
    """``[nloc, nall, n_0, ..., n_{ntypes-1}]`` (int32) counting local atoms."""
    atype = np.asarray(atype).reshape(-1)
    nloc = len(atype) if nloc is None else nloc
    nall = len(atype) if nall is None else nall
    local = atype[:nloc]
    # virtual atoms (type < 0) count in nloc/nall but in no type
    counts = np.bincount(local[local >= 0], minlength=ntypes)[:ntypes]
    return np.concatenate([[nloc, nall], counts]).astype(np.int32)

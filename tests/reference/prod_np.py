"""NumPy force / virial assembly and their adjoints (oracle of the prod ops).

Notation (shared reference §4.3): ``g[i, j, c]`` = ``net_deriv``,
``e[i, j, c, d]`` = ``in_deriv`` (derivative of the normalized row with
respect to the centre), ``n(i, j)`` = ``nlist``, ``x[i, j, :]`` = ``rij``.

* force: ``F_k = -sum_{j,c} g[k,j,c] e[k,j,c,:] + sum_{(i,j): n(i,j)=k} sum_c g[i,j,c] e[i,j,c,:]``
  (the centre term runs over every slot, as in DeePMD-kit);
* virial: ``V[a, b] = sum_{filled (i,j)} sum_c g[i,j,c] e[i,j,c,a] x[i,j,b]``;
* atom virial: the whole pair term goes to the neighbour ``n(i, j)``.

All arrays are float64 with a leading frame axis ``nf``; ``ncomp`` is
inferred as ``net_deriv.shape[1] / (nloc * nnei)``.  Forces in eV/Å and
virials in eV when ``g`` is in eV per descriptor unit.
"""

from __future__ import annotations

import numpy as np


def _unpack(net_deriv, in_deriv, nlist, nloc):
    """Reshape to ``g [nf,nloc,nnei,ncomp]``, ``e [...,3]``, ``nl [nf,nloc,nnei]``."""
    net_deriv = np.asarray(net_deriv, dtype=np.float64)
    nf = net_deriv.shape[0]
    nlist = np.asarray(nlist).reshape(nf, nloc, -1)
    nnei = nlist.shape[2]
    ncomp = net_deriv.shape[1] // (nloc * nnei) if nloc * nnei else 1
    g = net_deriv.reshape(nf, nloc, nnei, ncomp)
    e = np.asarray(in_deriv, dtype=np.float64).reshape(nf, nloc, nnei, ncomp, 3)
    return g, e, nlist


def pair_terms(net_deriv, in_deriv, nlist, nloc):
    """Per-slot force term ``sum_c g e``: ``nf x nloc x nnei x 3``."""
    g, e, _ = _unpack(net_deriv, in_deriv, nlist, nloc)
    return np.einsum("fijc,fijcd->fijd", g, e)


def prod_force(net_deriv, in_deriv, nlist, nloc, nall=None):
    """Forces ``nf x (nall*3)`` from the descriptor gradient (eV/Å)."""
    nall = nloc if nall is None else nall
    _, _, nl = _unpack(net_deriv, in_deriv, nlist, nloc)
    pair = pair_terms(net_deriv, in_deriv, nlist, nloc)
    nf = pair.shape[0]
    force = np.zeros((nf, nall, 3))
    force[:, :nloc] -= pair.sum(axis=2)
    for f in range(nf):
        filled = nl[f] >= 0
        np.add.at(force[f], nl[f][filled], pair[f][filled])
    return force.reshape(nf, nall * 3)


def prod_virial(net_deriv, in_deriv, rij, nlist, nloc, nall=None):
    """Virial ``nf x 9`` and atom virial ``nf x (nall*9)`` (eV, row-major a*3+b)."""
    nall = nloc if nall is None else nall
    _, _, nl = _unpack(net_deriv, in_deriv, nlist, nloc)
    pair = pair_terms(net_deriv, in_deriv, nlist, nloc)
    nf = pair.shape[0]
    x = np.asarray(rij, dtype=np.float64).reshape(pair.shape)
    filled = nl >= 0
    # pair virial [nf, nloc, nnei, 3(a), 3(b)]
    term = pair[..., :, None] * x[..., None, :] * filled[..., None, None]
    virial = term.sum(axis=(1, 2)).reshape(nf, 9)
    atom = np.zeros((nf, nall, 3, 3))
    for f in range(nf):
        np.add.at(atom[f], nl[f][filled[f]], term[f][filled[f]])
    return virial, atom.reshape(nf, nall * 9)


def prod_force_grad(grad, net_deriv, in_deriv, nlist, nloc):
    """Adjoint of :func:`prod_force` w.r.t. ``net_deriv`` (``grad``: ``nf x nloc*3``).

    As in DeePMD-kit, a neighbour index ``>= nloc`` is taken modulo ``nloc``.
    Returns ``nf x (nloc*nnei*ncomp)``.
    """
    g, e, nl = _unpack(net_deriv, in_deriv, nlist, nloc)
    nf = g.shape[0]
    up = np.asarray(grad, dtype=np.float64).reshape(nf, nloc, 3)
    out = -np.einsum("fid,fijcd->fijc", up, e)
    filled = nl >= 0
    nbr = np.where(filled, nl % max(nloc, 1), 0)
    up_n = np.take_along_axis(up, nbr.reshape(nf, -1, 1), axis=1).reshape(nl.shape + (3,))
    out += np.einsum("fijd,fijcd->fijc", up_n, e) * filled[..., None]
    return out.reshape(nf, -1)


def prod_virial_grad(grad, net_deriv, in_deriv, rij, nlist, nloc):
    """Adjoint of the ``virial`` output of :func:`prod_virial` (``grad``: ``nf x 9``)."""
    g, e, nl = _unpack(net_deriv, in_deriv, nlist, nloc)
    nf = g.shape[0]
    up = np.asarray(grad, dtype=np.float64).reshape(nf, 3, 3)
    x = np.asarray(rij, dtype=np.float64).reshape(nl.shape + (3,))
    out = np.einsum("fab,fijca,fijb->fijc", up, e, x) * (nl >= 0)[..., None]
    return out.reshape(nf, -1)

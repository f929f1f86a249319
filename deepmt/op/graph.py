"""Graph-mode wrappers of the deepmt ops (tensors in, tensors out).

Shapes follow DeePMD-kit 2.2.11 (see ``doc/developer/architecture.md`` §1):
``N = sum(sel)``, ``ndesc = 4 N`` (A family) or ``N`` (R family).
Attribute mistakes (``rcut <= 0``, ``rcut_smth > rcut``, negative ``sel``)
and statically wrong shapes raise :class:`deepmt.errors.InputError` when
the op is created.
"""

from __future__ import annotations

from typing import Sequence, Tuple

from deepmt.errors import InputError
from deepmt.op.loader import load


def _create(op_name: str, factory, *args, **kwargs):
    """Create an op, turning TF's construction-time errors into InputError."""
    try:
        return factory(*args, **kwargs)
    except (ValueError, TypeError) as exc:  # shape function / attribute errors
        raise InputError(f"cannot create {op_name}: {exc}") from exc


def _env_attrs(rcut: float, rcut_smth: float, sel: Sequence[int]) -> dict:
    return {"rcut": float(rcut), "rcut_smth": float(rcut_smth), "sel": [int(s) for s in sel]}


def env_mat_a(coord, atype, natoms, box, mesh, davg, dstd, *, rcut, rcut_smth, sel, name=None) -> Tuple:
    """Smooth se_e2_a environment matrix (op ``DmtEnvMatA``).

    Parameters
    ----------
    coord
        ``nf x nall*3`` coordinates (Å), float32 or float64.
    atype
        int32 ``nf x nall`` atom types (negative: virtual atom).
    natoms
        int32 ``[nloc, nall, n_0, ..., n_{ntypes-1}]``.
    box
        ``nf x 9`` cell vectors as rows (read only when ``len(mesh) == 6``).
    mesh
        int32 neighbour mode by its length: 0 open, 6 periodic, >16 a
        serialized neighbour list (:func:`deepmt.op.serialize_nlist`).
    davg, dstd
        ``ntypes x 4N`` normalization per centre type.
    rcut, rcut_smth, sel
        Cut-off (Å), start of the switching region (Å), slots per type.

    Returns
    -------
    tuple
        ``descrpt`` (``nf x nloc*4N``), ``descrpt_deriv`` (``nf x nloc*4N*3``,
        derivative w.r.t. the centre atom), ``rij`` (``nf x nloc*N*3``),
        ``nlist`` (int32 ``nf x nloc*N``), ``max_nnei`` (int32 ``nf x ntypes``).
    """
    op = load().dmt_env_mat_a
    return tuple(_create("DmtEnvMatA", op, coord, atype, natoms, box, mesh, davg, dstd,
                         name=name, **_env_attrs(rcut, rcut_smth, sel)))


def env_mat_r(coord, atype, natoms, box, mesh, davg, dstd, *, rcut, rcut_smth, sel, name=None) -> Tuple:
    """Radial se_e2_r environment matrix (op ``DmtEnvMatR``).

    Same arguments as :func:`env_mat_a` with ``davg``/``dstd`` of shape
    ``ntypes x N``; ``descrpt`` is ``nf x nloc*N`` (``w(r)/r`` per slot) and
    ``descrpt_deriv`` ``nf x nloc*N*3``.
    """
    op = load().dmt_env_mat_r
    return tuple(_create("DmtEnvMatR", op, coord, atype, natoms, box, mesh, davg, dstd,
                         name=name, **_env_attrs(rcut, rcut_smth, sel)))


def prod_force(net_deriv, in_deriv, nlist, natoms, name=None):
    """Forces ``nf x nall*3`` (eV/Å) from ``net_deriv = dE/d descrpt``.

    ``net_deriv`` is ``nf x nloc*ndesc``, ``in_deriv`` the ``descrpt_deriv``
    and ``nlist`` the neighbour list of the same environment-matrix op.
    Differentiable with respect to ``net_deriv``.
    """
    return _create("DmtProdForce", load().dmt_prod_force, net_deriv, in_deriv, nlist, natoms, name=name)


def prod_virial(net_deriv, in_deriv, rij, nlist, natoms, name=None) -> Tuple:
    """Virial ``nf x 9`` and atom virial ``nf x nall*9`` (eV).

    Each pair's contribution goes to the neighbour atom. Differentiable with
    respect to ``net_deriv`` through the virial only.
    """
    return tuple(_create("DmtProdVirial", load().dmt_prod_virial, net_deriv, in_deriv, rij, nlist,
                         natoms, name=name))


def prod_force_grad(grad, net_deriv, in_deriv, nlist, natoms, name=None):
    """Adjoint of :func:`prod_force`: ``nf x nloc*ndesc`` from ``grad`` (``nf x nall*3``)."""
    return _create("DmtProdForceGrad", load().dmt_prod_force_grad, grad, net_deriv, in_deriv, nlist,
                   natoms, name=name)


def prod_virial_grad(grad, net_deriv, in_deriv, rij, nlist, natoms, name=None):
    """Adjoint of the virial of :func:`prod_virial`: ``nf x nloc*ndesc`` from ``grad`` (``nf x 9``)."""
    return _create("DmtProdVirialGrad", load().dmt_prod_virial_grad, grad, net_deriv, in_deriv, rij,
                   nlist, natoms, name=name)

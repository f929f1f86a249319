"""Descriptor interface, registry and config helpers.

A descriptor turns the shared graph inputs (coordinates, types, cell, mesh)
into a per-atom feature matrix shared by every fitting head, and knows how to
turn ``d(sum of atomic outputs)/d(environment matrix)`` into forces and
virials with the ``prod_force``/``prod_virial`` ops.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Sequence

from deepmt.errors import ConfigError
from deepmt.utils.plugin import Registry

DESCRIPTORS = Registry("descriptor")


def _has_default(arg) -> bool:
    """Whether a dargs ``Argument`` declares a default (dargs marks "none" with
    a private enum member named ``NONE``)."""
    return getattr(arg.default, "name", None) != "NONE" or not hasattr(arg.default, "value")


def resolve_config(arguments: Sequence, config: Dict[str, Any], path: str) -> Dict[str, Any]:
    """Fill defaults and rewrite aliases of a component config.

    Parameters
    ----------
    arguments
        The component's ``args()`` (dargs ``Argument`` list).
    config
        User (or already normalized) keys; ``type`` must have been removed.
    path
        Key path used in error messages, e.g. ``"model/descriptor"``.

    Returns
    -------
    dict
        Canonical key -> value, every argument present.

    Raises
    ------
    ConfigError
        Unknown key, or a required key is missing.
    """
    canonical = {}
    for arg in arguments:
        canonical[arg.name] = arg.name
        for alias in arg.alias or ():
            canonical[alias] = arg.name
    out: Dict[str, Any] = {}
    for key, value in config.items():
        if key.startswith("_"):
            continue
        if key not in canonical:
            known = ", ".join(a.name for a in arguments)
            raise ConfigError(f"{path}/{key}: unknown key; the known keys are: {known}.")
        out[canonical[key]] = value
    for arg in arguments:
        if arg.name in out:
            continue
        if not _has_default(arg):
            if not arg.optional:
                raise ConfigError(f"{path}/{arg.name}: this key is required.")
            out[arg.name] = None
        else:
            out[arg.name] = copy.deepcopy(arg.default)
    return out


def check_int_list(value, length: int, path: str, *, minimum: int = 0) -> List[int]:
    """Validate a list of ``length`` integers >= ``minimum``."""
    if (not isinstance(value, (list, tuple)) or len(value) != length
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum
                       for v in value)):
        raise ConfigError(
            f"{path}: expected a list of {length} integers >= {minimum} (one per type in "
            f"type_map), got {value!r}."
        )
    return [int(v) for v in value]


def check_type_pairs(pairs, ntypes: int, path: str) -> set:
    """Validate ``exclude_types`` and return the symmetrized set of pairs."""
    out = set()
    for pair in pairs or ():
        if (not isinstance(pair, (list, tuple)) or len(pair) != 2
                or not all(isinstance(t, int) and 0 <= t < ntypes for t in pair)):
            raise ConfigError(
                f"{path}: each entry must be a pair of type indices in [0, {ntypes}), "
                f"got {pair!r}."
            )
        out.add((pair[0], pair[1]))
        out.add((pair[1], pair[0]))
    return out


class Descriptor:
    """Base class of descriptors (see ``doc/developer/architecture.md`` §3).

    Subclasses register themselves with ``@Descriptor.register(name, alias=...)``
    and implement :meth:`args` plus the methods below.
    """

    register = staticmethod(DESCRIPTORS.register)
    registered_name = "base"

    @classmethod
    def args(cls) -> list:
        """dargs ``Argument`` list of the config keys (without ``type``)."""
        raise NotImplementedError

    def __init__(self, ntypes: int, **config):
        self.ntypes = int(ntypes)

    # --- static information -------------------------------------------
    def get_rcut(self) -> float:
        raise NotImplementedError

    def get_sel(self) -> List[int]:
        raise NotImplementedError

    def get_ntypes(self) -> int:
        return self.ntypes

    def get_dim_out(self) -> int:
        raise NotImplementedError

    def get_dim_rot_mat_1(self) -> int:
        """Width ``M1`` of the rotation matrix, 0 if there is none."""
        return 0

    def get_config(self) -> Dict[str, Any]:
        """Canonical config including ``type`` (for the model metadata)."""
        raise NotImplementedError

    # --- statistics and graph ------------------------------------------
    def compute_input_stats(self, frames: list) -> None:
        raise NotImplementedError

    def build(self, coord, atype, natoms, box, mesh):
        raise NotImplementedError

    def get_rot_mat(self):
        raise ConfigError(f"descriptor {self.registered_name!r} has no rotation matrix.")

    def prod_force_virial(self, atom_output, natoms):
        raise NotImplementedError

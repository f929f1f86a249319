"""Compiled operators of deepmt: loader, graph wrappers and a NumPy API.

Importing this package imports neither TensorFlow nor the library;
:func:`load` does both, once. Graph wrappers (tensors in, tensors out) are in
:mod:`deepmt.op.graph`; the NumPy-level functions below run the ops in their
own cached graphs and sessions.
"""

from deepmt.op.loader import build_info, library_path, load, uses_deepmt_ops
from deepmt.op.numpy_api import (
    env_mat_a,
    env_mat_r,
    force_virial_a,
    force_virial_r,
    make_mesh,
    op_error_message,
    serialize_nlist,
)

__all__ = [
    "load",
    "uses_deepmt_ops",
    "library_path",
    "build_info",
    "env_mat_a",
    "env_mat_r",
    "force_virial_a",
    "force_virial_r",
    "make_mesh",
    "serialize_nlist",
    "op_error_message",
]

"""Finding and loading the compiled operator library ``libdeepmt_op.so``.

The library is loaded once, on the first call of :func:`load` (never at
``import deepmt`` or ``import deepmt.op``). It is located through
:mod:`importlib` so that both normal and editable installs work: in an
editable install the Python sources stay in the source tree while CMake
installs the library (and ``_build_info.py``) into site-packages.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import List, Optional

from deepmt.errors import OpLoadError
from deepmt.utils.tf_compat import get_tf

#: file name of the TensorFlow op library inside ``deepmt/lib``
LIBRARY_NAME = "libdeepmt_op.so"
#: environment variable that may point at a library to load instead
LIBRARY_ENV = "DEEPMT_OP_LIBRARY"

_REINSTALL = (
    "Rebuild the library against the TensorFlow you run with: "
    "pip install --no-build-isolation -e <deepmt source> (development) or "
    "pip install --force-reinstall deepmt with the pinned tensorflow-cpu."
)

_LOCK = threading.Lock()
_MODULE = None
_GRADIENTS_DONE = False


def build_info():
    """The generated ``deepmt.lib._build_info`` module, or None if missing."""
    try:
        return importlib.import_module("deepmt.lib._build_info")
    except ImportError:
        return None


def _candidates() -> List[Path]:
    """Places where the library may be, most specific first."""
    found: List[Path] = []
    override = os.environ.get(LIBRARY_ENV)
    if override:
        return [Path(override)]
    for module in ("deepmt.lib._build_info", "deepmt.lib._kernels"):
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            found.append(Path(spec.origin).with_name(LIBRARY_NAME))
    try:
        package = importlib.import_module("deepmt.lib")
        found.extend(Path(p) / LIBRARY_NAME for p in getattr(package, "__path__", []))
    except ImportError:
        pass
    return found


def library_path() -> Optional[Path]:
    """Path of the op library, or None when it is not installed."""
    for path in _candidates():
        if path.is_file():
            return path
    return None


def _running_tf_version() -> str:
    get_tf()
    return importlib.import_module("tensorflow").__version__


def _check_version() -> None:
    info = build_info()
    running = _running_tf_version()
    if info is not None and info.TF_VERSION != running:
        raise OpLoadError(
            f"the deepmt operator library was built against TensorFlow "
            f"{info.TF_VERSION} but TensorFlow {running} is running; custom ops "
            f"only load into the exact version they were compiled for. {_REINSTALL}"
        )


def _load_uncached():
    path = library_path()
    if path is None:
        where = ", ".join(str(p) for p in _candidates()) or "deepmt/lib"
        raise OpLoadError(
            f"the deepmt operator library {LIBRARY_NAME} was not found (looked in "
            f"{where}); deepmt was installed without its compiled part or the "
            f"build failed. {_REINSTALL}"
        )
    _check_version()
    tf = get_tf()
    try:
        module = tf.load_op_library(str(path))
    except Exception as exc:  # TF raises NotFoundError, OSError, ...
        raise OpLoadError(
            f"loading the deepmt operator library {path} failed: {exc}. This "
            f"usually means a TensorFlow version or C++ ABI mismatch. {_REINSTALL}"
        ) from exc
    _register_gradients(module)
    return module


def load():
    """Load the operator library once and return its op module.

    Also registers the gradients of ``DmtProdForce`` and ``DmtProdVirial``
    with respect to ``net_deriv``.

    Returns
    -------
    module
        The module returned by ``tf.load_op_library`` (``dmt_env_mat_a``,
        ``dmt_prod_force``, ...).

    Raises
    ------
    deepmt.errors.OpLoadError
        The library is missing, was built for another TensorFlow, or failed
        to load; the message says how to fix it.
    """
    global _MODULE
    if _MODULE is None:
        with _LOCK:
            if _MODULE is None:
                _MODULE = _load_uncached()
    return _MODULE


def _register_gradients(module) -> None:
    """Attach the adjoint ops as gradients of the force and virial ops."""
    global _GRADIENTS_DONE
    if _GRADIENTS_DONE:
        return
    tf = get_tf()

    def prod_force_grad(op, grad):
        net, in_deriv, nlist, natoms = op.inputs
        return [module.dmt_prod_force_grad(grad, net, in_deriv, nlist, natoms), None, None, None]

    def prod_virial_grad(op, grad_virial, _grad_atom_virial):
        # the atom virial is not trainable: its upstream gradient is dropped
        net, in_deriv, rij, nlist, natoms = op.inputs
        grad_net = module.dmt_prod_virial_grad(grad_virial, net, in_deriv, rij, nlist, natoms)
        return [grad_net, None, None, None, None]

    for name, fn in (("DmtProdForce", prod_force_grad), ("DmtProdVirial", prod_virial_grad)):
        try:
            tf.RegisterGradient(name)(fn)
        except KeyError:  # already registered in this process
            pass
    _GRADIENTS_DONE = True


def uses_deepmt_ops(graph_def) -> bool:
    """Whether a GraphDef contains deepmt's custom ops (op names ``Dmt*``).

    Function libraries are searched too. Such a graph can be imported only
    after :func:`load`.
    """
    return any(node.op.startswith("Dmt") for node in graph_def.node) or any(
        node.op.startswith("Dmt") for fn in graph_def.library.function for node in fn.node_def
    )

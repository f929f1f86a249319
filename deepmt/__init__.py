"""deepmt: multi-task deep-learning interatomic potentials.

One shared descriptor, several named fitting heads, one model file.
Importing :mod:`deepmt` does not import TensorFlow; the inference classes
are loaded on first use.
"""

__version__ = "0.1.0"

_LAZY = {
    "DeepPot": "deepmt.infer.deep_pot",
    "DeepDipole": "deepmt.infer.deep_tensor",
    "DeepPolar": "deepmt.infer.deep_tensor",
    "DeepPotential": "deepmt.infer.factory",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deepmt' has no attribute {name!r}")

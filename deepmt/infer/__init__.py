"""Inference on frozen deepmt models.

``DeepPot`` (energy heads), ``DeepDipole`` and ``DeepPolar`` (tensor heads),
the factory ``DeepPotential`` (evaluator for a head's kind) and
``eval_heads`` (several heads of one file in one session run).  The ASE
calculator lives in :mod:`deepmt.infer.calculator` (needs ``ase``).

This package imports only :mod:`deepmt.keys`, :mod:`deepmt.errors`,
:mod:`deepmt.op` and :mod:`deepmt.utils`; TensorFlow is imported when a
model is loaded, not when this package is imported.
"""

from deepmt.infer.deep_eval import DeepEval
from deepmt.infer.deep_pot import DeepPot
from deepmt.infer.deep_tensor import DeepDipole, DeepPolar, DeepTensor
from deepmt.infer.factory import DeepPotential
from deepmt.infer.multi_head import eval_heads

__all__ = ["DeepEval", "DeepPot", "DeepTensor", "DeepDipole", "DeepPolar", "DeepPotential",
           "eval_heads"]

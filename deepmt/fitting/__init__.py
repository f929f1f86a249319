"""Fitting heads: descriptor -> atomic energy, dipole or polarizability.

``FITTINGS`` maps a config ``type`` to a class; importing this package
registers ``ener``, ``dipole`` and ``polar`` (in that order) and does not
import TensorFlow.
"""

from deepmt.fitting.base import FITTINGS, Fitting
from deepmt.fitting.ener import EnerFitting
from deepmt.fitting.dipole import DipoleFitting
from deepmt.fitting.polar import PolarFitting

__all__ = ["FITTINGS", "Fitting", "EnerFitting", "DipoleFitting", "PolarFitting"]

"""Descriptors: environment matrix -> embedding nets -> per-atom features.

``DESCRIPTORS`` maps a config ``type`` (and its aliases) to a class; importing
this package registers ``se_e2_a`` (``se_a``) and ``se_e2_r`` (``se_r``) and does
not import TensorFlow.
"""

from deepmt.descriptor.base import DESCRIPTORS, Descriptor
from deepmt.descriptor import se_a as _se_a  # noqa: F401  (registers se_e2_a)
from deepmt.descriptor import se_r as _se_r  # noqa: F401  (registers se_e2_r)
from deepmt.descriptor.se_a import DescrptSeA
from deepmt.descriptor.se_r import DescrptSeR

__all__ = ["DESCRIPTORS", "Descriptor", "DescrptSeA", "DescrptSeR"]

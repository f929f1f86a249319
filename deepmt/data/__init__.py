"""The data layer: reading systems, sampling batches, NumPy statistics.

Nothing here imports TensorFlow; :func:`deepmt.data.neighbor_stat.neighbor_stat`
loads the compiled op library when called.
"""

from deepmt.data.discover import expand_systems
from deepmt.data.requirement import DataRequirement, merge_requirements
from deepmt.data.sampler import MultiSystemData, as_rng, build_data
from deepmt.data.stat import (energy_bias, make_stat_sample, param_stats,
                              polar_diag_shift, pool_frames)
from deepmt.data.system import DataSystem

__all__ = [
    "DataRequirement",
    "DataSystem",
    "MultiSystemData",
    "as_rng",
    "build_data",
    "energy_bias",
    "expand_systems",
    "make_stat_sample",
    "merge_requirements",
    "param_stats",
    "polar_diag_shift",
    "pool_frames",
]

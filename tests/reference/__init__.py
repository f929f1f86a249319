"""Brute-force NumPy oracle for the deepmt custom ops (test-only code).

Nothing here imports TensorFlow or deepmt.op: the oracle must stay an
independent implementation of the DeePMD-kit 2.2.11 rules that the compiled
ops are checked against.

* :mod:`reference.env_mat_np` -- switching function, neighbour selection with
  periodic images built by replicating the cell, se_e2_a / se_e2_r rows and
  derivatives, normalization;
* :mod:`reference.prod_np` -- force / virial assembly and the two grad ops;
* :mod:`reference.systems` -- random test geometries and helpers;
* :mod:`reference.compare` -- tie-aware comparison of op outputs to the oracle.
"""

"""Compiled parts of deepmt, installed here by the CMake build.

* ``libdeepmt_op.so`` - the TensorFlow custom ops (load with :func:`deepmt.op.load`);
* ``_kernels`` - a pybind11 view of the TF-free kernel library (tests only);
* ``_build_info`` - the TensorFlow version and flags the library was built with.

Nothing here is imported by ``import deepmt``.
"""

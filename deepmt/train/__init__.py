"""Training: input schema and checks, learning rate, trainer loop, checkpoints.

Importing this package imports no TensorFlow; the trainer modules reach it
through :func:`deepmt.utils.tf_compat.get_tf`.
"""

"""The one place where TensorFlow is imported and configured.

Nothing in deepmt imports TensorFlow at module import time of ``deepmt``;
code that needs it calls :func:`get_tf` which sets TF up once (graph mode,
quiet logging) and returns ``tensorflow.compat.v1``.
"""

from __future__ import annotations

import os

_TF = None


def get_tf():
    """Return ``tensorflow.compat.v1`` configured for deepmt (graph mode).

    The first call silences TF's start-up banners, disables eager execution
    and v2 behaviour (reference variables, ``tf.compat.v1`` semantics).
    """
    global _TF
    if _TF is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        import tensorflow

        tf = tensorflow.compat.v1
        # quiet first, so the deprecation notice of disable_v2_behavior is not printed
        tensorflow.get_logger().setLevel("ERROR")
        tf.logging.set_verbosity(tf.logging.ERROR)
        tf.disable_v2_behavior()
        _TF = tf
    return _TF


def session_config():
    """A ``ConfigProto`` with thread counts from the environment.

    Reads ``TF_INTRA_OP_PARALLELISM_THREADS`` and
    ``TF_INTER_OP_PARALLELISM_THREADS`` (DeePMD-kit's names, which TF itself
    ignores) and falls back to ``OMP_NUM_THREADS`` for the intra-op pool.
    Zero means "let TensorFlow choose".
    """
    tf = get_tf()

    def _int_env(name: str, default: int) -> int:
        value = os.environ.get(name, "")
        try:
            return int(value) if value else default
        except ValueError:
            return default

    intra = _int_env("TF_INTRA_OP_PARALLELISM_THREADS", _int_env("OMP_NUM_THREADS", 0))
    inter = _int_env("TF_INTER_OP_PARALLELISM_THREADS", 1)
    return tf.ConfigProto(
        intra_op_parallelism_threads=intra,
        inter_op_parallelism_threads=inter,
        allow_soft_placement=True,
    )


def precision_dtype(name: str):
    """Map a ``precision`` key value to a TF dtype ("default" -> float64)."""
    tf = get_tf()
    table = {
        "default": tf.float64,
        "float64": tf.float64,
        "float32": tf.float32,
        "float16": tf.float16,
        "bfloat16": tf.bfloat16,
    }
    return table[name]

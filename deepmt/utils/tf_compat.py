"""The one place where TensorFlow is imported and configured.

Nothing in deepmt imports TensorFlow at module import time of ``deepmt``;
code that needs it calls :func:`get_tf` which sets TF up once (graph mode,
quiet logging) and returns ``tensorflow.compat.v1``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

_TF = None

#: lines TensorFlow's C++ runtime writes to stderr while it loads, before its
#: own log-level setting applies; they carry no information for users
_IMPORT_NOISE = ("All log messages before absl::InitializeLog()", "oneDNN custom operations are on",
                 "cpu_feature_guard.cc", "To enable the following instructions")


@contextlib.contextmanager
def _quiet_native_stderr():
    """Hide the start-up banners TF's C++ side prints during import.

    File descriptor 2 is pointed at a temporary file while TensorFlow loads;
    afterwards every line that is not a known banner is written back to
    stderr, so real problems stay visible.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if line.strip() and not any(noise in line for noise in _IMPORT_NOISE):
                    print(line, file=sys.stderr)


def get_tf():
    """Return ``tensorflow.compat.v1`` configured for deepmt (graph mode).

    The first call silences TF's start-up banners, disables eager execution
    and v2 behaviour (reference variables, ``tf.compat.v1`` semantics).
    oneDNN stays on (TF's default): it makes the embedding-net matrix
    products several times faster on large systems.
    """
    global _TF
    if _TF is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with _quiet_native_stderr():
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

"""Thread settings reach the session config; TF is set up once, quietly."""

import subprocess
import sys

from deepmt.utils.tf_compat import get_tf, precision_dtype, session_config


def test_thread_counts_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TF_INTRA_OP_PARALLELISM_THREADS", "3")
    monkeypatch.setenv("TF_INTER_OP_PARALLELISM_THREADS", "2")
    config = session_config()
    assert (config.intra_op_parallelism_threads, config.inter_op_parallelism_threads) == (3, 2)


def test_omp_num_threads_is_the_intra_op_fallback(monkeypatch):
    monkeypatch.delenv("TF_INTRA_OP_PARALLELISM_THREADS", raising=False)
    monkeypatch.delenv("TF_INTER_OP_PARALLELISM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    config = session_config()
    assert (config.intra_op_parallelism_threads, config.inter_op_parallelism_threads) == (5, 1)
    monkeypatch.setenv("OMP_NUM_THREADS", "not-a-number")
    assert session_config().intra_op_parallelism_threads == 0


def test_graph_mode_and_precisions():
    tf = get_tf()
    assert not tf.executing_eagerly()
    assert precision_dtype("default") == tf.float64
    assert precision_dtype("float32") == tf.float32


def test_import_deepmt_does_not_import_tensorflow_and_setup_is_quiet():
    code = ("import sys, deepmt, deepmt.op, deepmt.data, deepmt.descriptor, deepmt.fitting, "
            "deepmt.loss, deepmt.entrypoints.main\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported too early'\n"
            "from deepmt.utils.tf_compat import get_tf\nget_tf()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "deprecat" not in done.stderr.lower()


def test_native_banners_are_filtered_but_other_stderr_survives():
    code = ("import os\nfrom deepmt.utils import tf_compat\n"
            "with tf_compat._quiet_native_stderr():\n"
            "    os.write(2, b'oneDNN custom operations are on. blah\\n')\n"
            "    os.write(2, b'a real problem\\n')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "a real problem" in done.stderr and "oneDNN" not in done.stderr

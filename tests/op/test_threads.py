"""Results do not depend on the number of threads (bitwise).

OpenMP fixes its team size when a process starts, so the 1-thread run is a
fresh process (``OMP_NUM_THREADS=1``); the 2-thread run is this process when
it may use two or more OpenMP threads, else a second fresh process.  Every
output of :mod:`thread_job` (768 water atoms, A and R families, forces,
virials, registered gradients) must be bitwise equal.
"""

import os
import subprocess
import sys

import numpy as np

import thread_job

JOB = os.path.abspath(thread_job.__file__)


def _start(nthreads, out_path, water_dir):
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_INTRA_OP_PARALLELISM_THREADS"):
        env[name] = str(nthreads)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return subprocess.Popen([sys.executable, JOB, str(nthreads), str(out_path), water_dir],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc, out_path, nthreads):
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"{nthreads}-thread run failed:\n{output[-3000:]}"
    with np.load(out_path) as data:
        return {k: data[k] for k in data.files}


def _omp_threads_here() -> int:
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() else (os.cpu_count() or 1)


def test_outputs_do_not_depend_on_thread_count(ops, tmp_path, water_dir):
    one_proc = _start(1, tmp_path / "one.npz", water_dir)
    if _omp_threads_here() >= 2:
        two = thread_job.compute(water_dir, 2)
    else:
        two = _finish(_start(2, tmp_path / "two.npz", water_dir), tmp_path / "two.npz", 2)
    one = _finish(one_proc, tmp_path / "one.npz", 1)
    assert sorted(one) == sorted(two) and len(one) == 18
    for key in one:
        assert one[key].shape == two[key].shape, key
        mismatch = np.nonzero(one[key].reshape(-1) != two[key].reshape(-1))[0]
        if mismatch.size:
            first = mismatch[0]
            raise AssertionError(
                f"{key}: {mismatch.size} elements differ between 1 and 2 threads, first at flat "
                f"index {first}: {one[key].reshape(-1)[first]!r} vs {two[key].reshape(-1)[first]!r}")
    assert one["a_force"].shape == (1, 768 * 3)

"""Learning-rate schedule: staircase values, auto decay_steps, graph == NumPy."""

import math
import sys

import numpy as np
import pytest

from deepmt.train.learning_rate import (LEARNING_RATES, LearningRateExp, auto_decay_steps,
                                        make_learning_rate)


def test_import_does_not_load_tensorflow():
    # run in a fresh interpreter: this one may already hold TF from other tests
    import subprocess

    code = ("import sys, deepmt.loss, deepmt.train.learning_rate; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_reference_numbers_of_deepmd_kit():
    # start 1e-3, stop 3.51e-8, T=20, decay 5 -> gamma=0.076971, lr(5)=7.7e-5
    lr = LearningRateExp(numb_steps=20, start_lr=1e-3, stop_lr=3.51e-8, decay_steps=5)
    assert lr.decay_rate == pytest.approx(0.076971, abs=1e-6)
    assert lr.value(5) == pytest.approx(7.697e-5, rel=1e-3)


def test_staircase_boundaries():
    lr = LearningRateExp(numb_steps=1000, start_lr=1e-2, stop_lr=1e-6, decay_steps=100)
    gamma = math.exp(math.log(1e-6 / 1e-2) * 100 / 1000)
    assert lr.value(0) == 1e-2
    assert lr.value(99) == 1e-2
    assert lr.value(100) == pytest.approx(1e-2 * gamma, rel=1e-14)
    assert lr.value(199) == lr.value(100)
    assert lr.value(200) == pytest.approx(1e-2 * gamma ** 2, rel=1e-14)
    # decay_steps divides numb_steps: the stop value is reached exactly
    assert lr.value(1000) == pytest.approx(1e-6, rel=1e-12)


@pytest.mark.parametrize("decay, steps, expected", [
    (5000, 20, 1),         # 20//10 = 2 <= 100 -> 20//100 + 1
    (5000, 2000, 100),     # 2000//10 = 200 > 100 -> 100
    (20, 20, 1),           # equal counts as "does not fit"
    (100, 1_000_000, 100),  # fits: unchanged
    (5000, 1500, 100),     # 1500//10 = 150 > 100 -> 100
    (5000, 999, 10),       # 999//10 = 99 -> 999//100 + 1
])
def test_auto_decay_steps(decay, steps, expected):
    assert auto_decay_steps(decay, steps) == expected
    assert LearningRateExp(numb_steps=steps, decay_steps=decay).decay_steps == expected


def test_registry_and_factory():
    assert LEARNING_RATES.get("exp") is LearningRateExp
    lr = make_learning_rate({"type": "exp", "start_lr": 2e-3, "stop_lr": 2e-5,
                             "decay_steps": 10, "scale_by_worker": "linear"}, 100)
    assert lr.value(0) == 2e-3
    from deepmt.errors import ConfigError

    with pytest.raises(ConfigError, match="learning_rate/type"):
        make_learning_rate({"type": "expo"}, 100)
    names = [arg.name for arg in LearningRateExp.args()]
    assert names == ["start_lr", "stop_lr", "decay_steps", "scale_by_worker"]


def test_graph_matches_value():
    from deepmt.utils.tf_compat import get_tf

    tf = get_tf()
    lr = LearningRateExp(numb_steps=50, start_lr=1e-3, stop_lr=1e-7, decay_steps=7)
    graph = tf.Graph()
    with graph.as_default():
        step = tf.placeholder(tf.int64, [])
        tensor = lr.build(step)
        with tf.Session() as sess:
            got = [sess.run(tensor, {step: s}) for s in range(0, 51, 3)]
    want = [lr.value(s) for s in range(0, 51, 3)]
    np.testing.assert_allclose(got, want, rtol=1e-15)

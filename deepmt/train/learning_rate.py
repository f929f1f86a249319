"""Learning-rate schedules (registry ``LEARNING_RATES``).

A schedule is built once per head from its normalized ``learning_rate``
section plus the run length ``numb_steps``.  It offers the value at a step
as a Python float (for logging and tests) and as a graph tensor driven by
the shared ``global_step`` (for the optimizer and the loss prefactors).
Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import math
from typing import List

from deepmt.utils.plugin import Registry

LEARNING_RATES = Registry("learning rate")


class LearningRate:
    """Interface of a learning-rate schedule.

    Subclasses register with ``@LEARNING_RATES.register(name)`` and provide
    :meth:`args`, :meth:`value` and :meth:`build`.
    """

    #: first learning rate; the loss prefactors interpolate against it
    start_lr: float

    @classmethod
    def args(cls) -> list:
        """dargs arguments of this schedule's section (without ``type``)."""
        raise NotImplementedError

    def value(self, step: int) -> float:
        """Learning rate at global step ``step``."""
        raise NotImplementedError

    def build(self, global_step):
        """Scalar float64 tensor: the learning rate at ``global_step``."""
        raise NotImplementedError


def auto_decay_steps(decay_steps: int, numb_steps: int) -> int:
    """Replace a ``decay_steps`` that does not fit into the run.

    DeePMD-kit's rule: when ``decay_steps >= numb_steps`` the interval
    becomes 100 if ``numb_steps // 10 > 100``, else ``numb_steps // 100 + 1``.

    Parameters
    ----------
    decay_steps
        Requested staircase interval (steps).
    numb_steps
        Total number of training steps of the run.

    Returns
    -------
    int
        The interval actually used (always >= 1).
    """
    if decay_steps >= numb_steps:
        return 100 if numb_steps // 10 > 100 else numb_steps // 100 + 1
    return max(int(decay_steps), 1)


@LEARNING_RATES.register("exp")
class LearningRateExp(LearningRate):
    """Staircase exponential decay from ``start_lr`` towards ``stop_lr``.

    ``lr(t) = start_lr * gamma ** floor(t / decay_steps)`` with
    ``gamma = exp(ln(stop_lr / start_lr) * decay_steps / numb_steps)``, so
    that ``lr(numb_steps) == stop_lr`` when ``decay_steps`` divides
    ``numb_steps``.

    Parameters
    ----------
    numb_steps
        Total number of training steps (``training.numb_steps``).
    start_lr, stop_lr
        Learning rate at step 0 and the target at ``numb_steps``.
    decay_steps
        Staircase interval, corrected by :func:`auto_decay_steps`.
    scale_by_worker
        Accepted for input compatibility; deepmt trains on one worker, so
        the factor is always 1.
    """

    def __init__(self, numb_steps: int, start_lr: float = 1e-3, stop_lr: float = 1e-8,
                 decay_steps: int = 5000, scale_by_worker: str = "linear", **_ignored):
        self.numb_steps = int(numb_steps)
        self.start_lr = float(start_lr)
        self.stop_lr = float(stop_lr)
        self.scale_by_worker = scale_by_worker
        self.decay_steps = auto_decay_steps(int(decay_steps), self.numb_steps)
        if self.numb_steps > 0 and self.start_lr > 0 and self.stop_lr > 0:
            exponent = math.log(self.stop_lr / self.start_lr) * self.decay_steps / self.numb_steps
            self.decay_rate = math.exp(exponent)
        else:  # nothing to decay towards: keep the rate constant
            self.decay_rate = 1.0

    @classmethod
    def args(cls) -> List:
        from dargs import Argument

        return [
            Argument("start_lr", float, optional=True, default=1e-3,
                     doc="Learning rate at step 0."),
            Argument("stop_lr", float, optional=True, default=1e-8,
                     doc="Learning rate reached at `numb_steps` (exactly when "
                         "`decay_steps` divides `numb_steps`)."),
            Argument("decay_steps", int, optional=True, default=5000,
                     doc="The learning rate is multiplied by the decay rate every "
                         "`decay_steps` steps. A value >= `numb_steps` is replaced "
                         "by 100 if numb_steps//10 > 100, else numb_steps//100 + 1."),
            Argument("scale_by_worker", str, optional=True, default="linear",
                     doc="Scaling with the number of workers in distributed runs "
                         "('linear', 'sqrt' or 'none'); deepmt runs on one worker, "
                         "so this has no effect."),
        ]

    def value(self, step: int) -> float:
        """Learning rate at ``step`` (float64 arithmetic, as in the graph)."""
        return self.start_lr * self.decay_rate ** (int(step) // self.decay_steps)

    def build(self, global_step):
        """Scalar float64 tensor of the learning rate.

        Parameters
        ----------
        global_step
            int64 scalar tensor, the shared step counter.
        """
        from deepmt.utils.tf_compat import get_tf

        tf = get_tf()
        exponent = tf.cast(tf.math.floordiv(global_step, self.decay_steps), tf.float64)
        rate = tf.constant(self.decay_rate, dtype=tf.float64)
        return tf.multiply(tf.constant(self.start_lr, tf.float64), tf.pow(rate, exponent),
                           name="learning_rate")


def make_learning_rate(config: dict, numb_steps: int) -> LearningRate:
    """Build a schedule from a normalized ``learning_rate`` section.

    Parameters
    ----------
    config
        The section, with its ``type`` key (default ``"exp"``).
    numb_steps
        Total number of training steps.
    """
    from deepmt.errors import ConfigError

    params = dict(config)
    kind = params.pop("type", "exp")
    try:
        cls = LEARNING_RATES.get(kind)
    except KeyError as err:
        raise ConfigError(f"learning_rate/type: {err.args[0]}") from None
    return cls(numb_steps=numb_steps, **params)

"""Per-head pieces of the training graph and of the step loop.

A :class:`HeadTask` bundles what the trainer knows about one head: its
fitting kind, loss, learning-rate schedule, data, label placeholders (under
``heads/<head>/``), loss/metric tensors and its own optimizer.

Optimizers: one ``tf.train.AdamOptimizer`` per head, named ``Adam_<head>``
and built inside the name scope ``heads/<head>/optimizer/``.  Each minimizes
its head's loss over every trainable variable, so the shared descriptor has
separate Adam moments per head (slots ``<var>/Adam_<head>`` and
``<var>/Adam_<head>_1``; accumulators ``heads/<head>/optimizer/beta1_power``
and ``beta2_power``).  These names depend only on the head name, never on
the creation order, so checkpoints stay loadable when heads are reordered.
All heads share one ``global_step``, incremented by whichever head trains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from deepmt import keys
from deepmt.utils.tf_compat import get_tf


@dataclass
class HeadTask:
    """Runtime view of one head.

    Attributes
    ----------
    name
        Head name.
    kind
        Fitting kind (``ener``, ``dipole``, ``polar``).
    weight
        Normalized sampling weight (0: not trained).
    loss
        The head's :class:`deepmt.loss.Loss`.
    lr
        The head's learning-rate schedule.
    requirements
        Data requirements (fitting + loss).
    train_data, valid_data
        :class:`deepmt.train.sampling.RecordedData` or None.
    """

    name: str
    kind: str
    weight: float
    loss: object
    lr: object
    requirements: Sequence = ()
    train_data: Optional[object] = None
    valid_data: Optional[object] = None
    labels: Dict[str, object] = field(default_factory=dict)
    loss_tensor: object = None
    metrics: Dict[str, object] = field(default_factory=dict)
    lr_tensor: object = None
    train_op: object = None

    @property
    def trained(self) -> bool:
        """True when the step loop may pick this head."""
        return self.weight > 0.0 and self.train_data is not None

    @property
    def displayed(self) -> bool:
        """True when the head has a column in ``lcurve.out``."""
        return self.train_data is not None


def make_label_placeholders(head: str, requirements: Sequence) -> dict:
    """``heads/<head>/t_<key>`` float64 ``[-1]`` and ``t_find_<key>`` scalars.

    Returns
    -------
    dict
        ``{key: placeholder, "find_<key>": placeholder}``.
    """
    tf = get_tf()
    labels = {}
    for req in requirements:
        labels[req.key] = tf.placeholder(
            tf.float64, [None], name=keys.head_node(head, f"t_{req.key}"))
        labels[f"find_{req.key}"] = tf.placeholder(
            tf.float64, [], name=keys.head_node(head, f"t_find_{req.key}"))
    return labels


def build_head_graph(task: HeadTask, predictions: dict, natoms, global_step) -> None:
    """Learning rate, loss, metrics and the train op of ``task`` (in place)."""
    tf = get_tf()
    scope = keys.head_scope(task.name)
    with tf.name_scope(f"{scope}/loss/"):
        task.lr_tensor = task.lr.build(global_step)
        task.loss_tensor, task.metrics = task.loss.build(
            task.lr_tensor, natoms, predictions, task.labels)
    optimizer = tf.train.AdamOptimizer(task.lr_tensor, name=f"Adam_{task.name}")
    with tf.name_scope(f"{scope}/optimizer/"):
        task.train_op = optimizer.minimize(task.loss_tensor, global_step=global_step,
                                           name="train_op")


def shared_feed(placeholders: dict, batch: dict) -> dict:
    """Feed of the shared inputs (coordinates, types, cell, natoms, mesh)."""
    from deepmt import op

    return {
        placeholders[keys.T_COORD]: np.reshape(batch["coord"], [-1]),
        placeholders[keys.T_TYPE]: np.reshape(batch["type"], [-1]),
        placeholders[keys.T_NATOMS]: np.asarray(batch["natoms_vec"], dtype=np.int32),
        placeholders[keys.T_BOX]: np.reshape(batch["box"], [-1]),
        placeholders[keys.T_MESH]: op.make_mesh(bool(batch["pbc"])),
    }


def head_feed(task: HeadTask, placeholders: dict, batch: dict) -> dict:
    """Full feed for ``task``: shared inputs, fparam/aparam, labels, flags."""
    feed = shared_feed(placeholders, batch)
    for key in (keys.T_FPARAM, keys.T_APARAM):
        node = keys.head_node(task.name, key)
        if node in placeholders:
            feed[placeholders[node]] = np.reshape(batch[key[2:]], [-1])
    for req in task.requirements:
        if req.key in task.labels:
            feed[task.labels[req.key]] = np.reshape(batch[req.key], [-1])
            feed[task.labels[f"find_{req.key}"]] = float(batch[f"find_{req.key}"])
    return feed


def batch_metrics(sess, task: HeadTask, placeholders: dict, batch: dict) -> Dict[str, float]:
    """Metrics of one batch, NaN where the batch lacks the label."""
    values = sess.run(task.metrics, head_feed(task, placeholders, batch))
    return task.loss.finalize(values, batch)


def weighted_metrics(sess, task: HeadTask, placeholders: dict,
                     batches: List[dict]) -> Dict[str, float]:
    """Weighted mean of per-batch metrics (weight: atoms or selected atoms).

    A metric that is NaN in any batch stays NaN.
    """
    sums: Dict[str, float] = {}
    total = 0.0
    for batch in batches:
        weight = task.loss.batch_weight(batch["natoms_vec"])
        for name, value in batch_metrics(sess, task, placeholders, batch).items():
            sums[name] = sums.get(name, 0.0) + weight * value
        total += weight
    if total <= 0.0:
        return {name: math.nan for name in task.loss.metric_names()}
    return {name: value / total for name, value in sums.items()}

"""The learning-curve file ``lcurve.out``.

Single task: DeePMD-kit's layout, one record per display step::

    #  step      rmse_val    rmse_trn    rmse_e_val  ...       lr
    # If there is no available reference data, rmse_*_{val,trn} will print nan
          0      3.05e-01    2.13e-01 ...   1.0e-03

(step ``%7d``, metrics ``%11.2e``, lr ``%8.1e``; only ``*_trn`` columns
without validation data).

Multi task: one line per step as well (unlike DeePMD-kit 2.2, whose records
span one line per head), with columns ``<metric>_<val|trn>_<head>`` in head
order and ``lr`` (or ``lr_<head>`` for each head when the heads' schedules
differ), so that ``numpy.genfromtxt(path, names=True)`` reads it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from deepmt.utils.files import atomic_write

NAN_NOTE = "# If there is no available reference data, rmse_*_{val,trn} will print nan\n"


@dataclass(frozen=True)
class HeadColumns:
    """Columns one head contributes to the learning curve.

    Attributes
    ----------
    head
        Head name.
    metrics
        Metric names in display order (``rmse``, ``rmse_e``, ...).
    has_validation
        True when the head has validation data (``*_val`` columns).
    """

    head: str
    metrics: Sequence[str]
    has_validation: bool


class LCurveWriter:
    """Writes ``lcurve.out`` for one training run.

    Parameters
    ----------
    path
        File name (``training/disp_file``).
    heads
        One :class:`HeadColumns` per displayed head, in head order.
    multi_task
        Use the one-line multi-task layout (column suffix ``_<head>``).
    lr_per_head
        Multi task: write one ``lr_<head>`` column per head instead of ``lr``.
    restart_step
        None for a new run (the file is truncated); otherwise the file is
        kept, records after this step (written by the interrupted run after
        its last checkpoint) are dropped, and new records are appended.
    """

    def __init__(self, path: str, heads: Sequence[HeadColumns], multi_task: bool,
                 lr_per_head: bool = False, restart_step: Optional[int] = None):
        self.path = path
        self.heads = list(heads)
        self.multi_task = multi_task
        self.lr_per_head = multi_task and lr_per_head
        if restart_step is not None and os.path.exists(path):
            _truncate_after(path, restart_step)
            self._handle = open(path, "a", encoding="utf-8")
        else:
            self._handle = open(path, "w", encoding="utf-8")
            self._handle.write(self.header())
            self._handle.flush()

    # --- layout -----------------------------------------------------------
    def columns(self) -> List[str]:
        """Column names after ``step`` (metrics then learning rates)."""
        names = []
        for cols in self.heads:
            suffix = f"_{cols.head}" if self.multi_task else ""
            for metric in cols.metrics:
                if cols.has_validation:
                    names.append(f"{metric}_val{suffix}")
                names.append(f"{metric}_trn{suffix}")
        if self.lr_per_head:
            names += [f"lr_{cols.head}" for cols in self.heads]
        else:
            names.append("lr")
        return names

    def _widths(self) -> List[int]:
        if not self.multi_task:
            return [11] * (len(self.columns()) - 1) + [8]
        return [max(11, len(name)) for name in self.columns()]

    def _join(self, cells: List[str]) -> str:
        """Join metric cells and lr cells with DeePMD-kit's separators.

        Single task with validation: ``"   val trn"`` per metric (one space
        inside a pair); otherwise three spaces before every cell.
        """
        paired = not self.multi_task and self.heads[0].has_validation
        nlr = len(self.heads) if self.lr_per_head else 1
        metric_cells, lr_cells = cells[:-nlr], cells[-nlr:]
        if paired:
            text = "".join(f"   {a} {b}" for a, b in zip(metric_cells[::2], metric_cells[1::2]))
        else:
            text = "".join(f"   {c}" for c in metric_cells)
        return text + "".join(f"   {c}" for c in lr_cells)

    def header(self) -> str:
        """The two header lines."""
        cells = ["%*s" % (w, n) for n, w in zip(self.columns(), self._widths())]
        return "# %5s" % "step" + self._join(cells) + "\n" + NAN_NOTE

    # --- records ----------------------------------------------------------
    def format_record(self, step: int, train: Dict[str, Dict[str, float]],
                      valid: Dict[str, Optional[Dict[str, float]]],
                      lrs: Dict[str, float]) -> str:
        """One data line.

        Parameters
        ----------
        step
            Global step.
        train, valid
            Head -> metric -> value (``valid[head]`` None without validation).
        lrs
            Head -> learning rate at ``step``.
        """
        values = []
        for cols in self.heads:
            for metric in cols.metrics:
                if cols.has_validation:
                    values.append(_get(valid.get(cols.head), metric))
                values.append(_get(train.get(cols.head), metric))
        lr_values = [lrs[c.head] for c in self.heads] if self.lr_per_head \
            else [lrs[self.heads[0].head]]
        widths = self._widths()
        cells = ["%*.2e" % (w, v) for v, w in zip(values, widths)]
        lr_fmt = "%*.2e" if self.multi_task else "%*.1e"
        cells += [lr_fmt % (w, v) for v, w in zip(lr_values, widths[len(values):])]
        return "%7d" % step + self._join(cells) + "\n"

    def write(self, step: int, train, valid, lrs) -> None:
        """Append one record and flush it to disk."""
        self._handle.write(self.format_record(step, train, valid, lrs))
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def _get(values: Optional[Dict[str, float]], metric: str) -> float:
    if values is None:
        return math.nan
    return float(values.get(metric, math.nan))


def _truncate_after(path: str, step: int) -> None:
    """Drop data lines whose step is larger than ``step`` (atomic rewrite)."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.readlines()
    kept = []
    for line in lines:
        fields = line.split()
        if fields and not line.startswith("#"):
            try:
                if int(fields[0]) > step:
                    continue
            except ValueError:
                pass
        kept.append(line)
    if len(kept) == len(lines):
        return
    atomic_write(path, "".join(kept))

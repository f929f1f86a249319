"""``deepmt test``: errors of one head of a frozen model on labelled systems.

Energy heads: energy (total and per atom), force and, for periodic systems
with virial labels, virial MAE/RMSE per system and a weighted average over
systems; detail files ``PREFIX.e.out``, ``.e_peratom.out``, ``.f.out`` and
(only for the systems whose virial errors are reported) ``.v.out``,
``.v_peratom.out`` in DeePMD-kit's layout (``np.savetxt`` with a
``<system>: <columns>`` header, appended system after system; atoms in the
type-sorted order).  Dipole/polarizability heads: RMSE (plus RMSE/sqrtN and
RMSE/N for global labels, N = atoms of the selected types) and
``PREFIX.out``.  Atom types are re-mapped by name to the model's type map.
"""

from __future__ import annotations

import argparse
import logging
from collections import namedtuple
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

log = logging.getLogger(__name__)

#: one printed error: ``size`` weighs it in the average over systems; ``labels``
#: ("atomic"/"global" for tensor heads) keeps unlike comparisons apart there
Metric = namedtuple("Metric", "name value size unit kind labels", defaults=("",))
_CHUNK_FRAMES = 64
_COMPONENTS = ("xx", "xy", "xz", "yx", "yy", "yz", "zx", "zy", "zz")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``test`` sub-parser and return it."""
    parser = subparsers.add_parser(
        "test",
        help="errors of a frozen model on labelled data",
        description="Evaluate one head of a frozen model on data systems and print its "
        "errors (energy/force/virial for energy heads, RMSE for dipole/polar heads).",
    )
    parser.add_argument("-m", "--model", default="frozen_model.pb",
                        help="frozen model file (default: frozen_model.pb)")
    parser.add_argument("-s", "--system", default=".",
                        help="system folder, or a folder searched recursively for systems "
                        "(default: .)")
    parser.add_argument("--head", default=None,
                        help="head to test (default: the model's default head)")
    parser.add_argument("-S", "--set-prefix", default="set",
                        help="sets are the folders <prefix>.* (default: set)")
    parser.add_argument("-n", "--numb-test", type=int, default=0,
                        help="test the first N frames of each system (default 0: all)")
    parser.add_argument("-d", "--detail-file", default=None,
                        help="write label/prediction pairs to files named from this prefix")
    parser.add_argument("-a", "--atomic", action="store_true",
                        help="energy heads: also test atomic energies (atom_ener.npy); "
                        "tensor heads: require atomic labels")
    return parser


def _batches(system, numb_test: int) -> Iterator[dict]:
    """Batches (atoms sorted by type) of the first ``numb_test`` frames (0: all)."""
    left = numb_test if numb_test > 0 else system.nframes
    for _, _, batch in system.iter_frames(_CHUNK_FRAMES):
        if left <= 0:
            return
        nb = batch["coord"].shape[0]
        take = min(left, nb)
        left -= take
        yield {key: value[:take] if getattr(value, "ndim", 0) == 2 and value.shape[0] == nb
               else value for key, value in batch.items()}


def _params(evaluator, batch: dict, natoms: int) -> dict:
    """fparam/aparam of a batch for the evaluator, if its head takes them."""
    params = {}
    if evaluator.get_dim_fparam():
        params["fparam"] = batch["fparam"]
    if evaluator.get_dim_aparam():
        params["aparam"] = batch["aparam"].reshape(batch["coord"].shape[0], natoms, -1)
    return params


def _param_requirements(evaluator) -> list:
    from deepmt.data import DataRequirement

    reqs = []
    if evaluator.get_dim_fparam():
        reqs.append(DataRequirement("fparam", evaluator.get_dim_fparam(), must=True))
    if evaluator.get_dim_aparam():
        reqs.append(DataRequirement("aparam", evaluator.get_dim_aparam(), atomic=True,
                                    must=True))
    return reqs


def _errors(diff, size_name: str, unit: str, scale: float = 1.0) -> List[Metric]:
    import numpy as np

    diff = np.asarray(diff, dtype=np.float64).reshape(-1) * scale
    mae = float(np.mean(np.abs(diff))) if diff.size else float("nan")
    rmse = float(np.sqrt(np.mean(diff * diff))) if diff.size else float("nan")
    return [Metric(f"{size_name} MAE", mae, diff.size, unit, "mae"),
            Metric(f"{size_name} RMSE", rmse, diff.size, unit, "rmse")]


def _per_atom(metrics: List[Metric]) -> List[Metric]:
    return [m._replace(name=m.name + "/Natoms") for m in metrics]


def _check_detail_prefix(prefix: str) -> None:
    """Create the folder of the detail files; fail clearly if that is impossible."""
    from deepmt.errors import DeepMTError

    folder = Path(prefix).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DeepMTError(f"cannot write the detail files {prefix}.*: cannot create folder "
                          f"{str(folder)!r} ({err.strerror}).") from None


def _detail_path(prefix: str, suffix: str) -> Path:
    """The detail file ``suffix`` (``.e.out``, ...): it replaces the prefix's extension."""
    return Path(prefix).with_suffix(suffix)


def _save(prefix: str, suffix: str, data, header: str, written: Set[Path]) -> None:
    """Write a system's rows: a new file on the first write of this run, then append.

    ``written`` holds the files this run has written so far (updated here).
    """
    import numpy as np
    from deepmt.errors import DeepMTError

    path = _detail_path(prefix, suffix)
    try:
        with open(path, "a" if path in written else "w") as handle:
            np.savetxt(handle, data, header=header)
    except OSError as err:
        raise DeepMTError(f"cannot write the detail file {str(path)!r}: {err.strerror}.") from None
    written.add(path)


def _warn_missing(system, keys: List[str]) -> None:
    for key in keys:
        lacking = sum(key not in info.sizes for info in system.sets)
        if lacking:
            log.warning("system %s lacks %s.npy in %d of %d set(s): those frames are compared "
                        "with zeros", system.path, key, lacking, len(system.sets))


def _test_ener(dp, path: str, args, written: Set[Path]) -> Tuple[List[Metric], int]:
    """Energy, force and virial errors of one system (and its detail files).

    Returns the metrics and the number of frames tested.
    """
    import numpy as np
    from deepmt.data import DataRequirement, DataSystem

    reqs = [DataRequirement("energy", 1), DataRequirement("force", 3, atomic=True),
            DataRequirement("virial", 9)] + _param_requirements(dp)
    if args.atomic:
        reqs.append(DataRequirement("atom_ener", 1, atomic=True))
    system = DataSystem(path, type_map=dp.get_type_map() or None, requirements=reqs,
                        set_prefix=args.set_prefix, ntypes=dp.get_ntypes())
    _warn_missing(system, ["energy", "force"])
    # unlike DeePMD-kit, virial errors are reported only against real virial labels
    has_virial = system.pbc and all("virial" in info.sizes for info in system.sets)
    if not has_virial:
        _print_no_virial(system.pbc, args.detail_file)
    nat = system.natoms
    label = {key: [] for key in ("energy", "force", "virial", "atom_ener")}
    pred = {key: [] for key in label}
    for batch in _batches(system, args.numb_test):
        cells = batch["box"] if system.pbc else None
        out = dp.eval(batch["coord"], cells, system.sorted_types, atomic=args.atomic,
                      **_params(dp, batch, nat))
        for index, key in enumerate(("energy", "force", "virial")):
            pred[key].append(out[index].reshape(out[index].shape[0], -1))
            label[key].append(batch[key])
        if args.atomic:
            pred["atom_ener"].append(out[3].reshape(-1, nat))
            label["atom_ener"].append(batch["atom_ener"])
    pred = {k: np.concatenate(v) for k, v in pred.items() if v}
    label = {k: np.concatenate(v) for k, v in label.items() if v}
    diff = {k: pred[k] - label[k] for k in pred}
    metrics = (_errors(diff["energy"], "Energy", "eV")
               + _per_atom(_errors(diff["energy"], "Energy", "eV", 1.0 / nat))
               + _errors(diff["force"], "Force ", "eV/A"))
    if has_virial:
        metrics += (_errors(diff["virial"], "Virial", "eV")
                    + _per_atom(_errors(diff["virial"], "Virial", "eV", 1.0 / nat)))
    if args.atomic and all("atom_ener" in info.sizes for info in system.sets):
        metrics += _errors(diff["atom_ener"], "Atomic ener", "eV")
    if args.detail_file:
        _write_ener_details(args.detail_file, path, label, pred, nat, written, has_virial)
    return metrics, pred["energy"].shape[0]


def _print_no_virial(pbc: bool, detail_prefix) -> None:
    """Say that a system gets no virial errors (and no virial detail rows), and why."""
    reason = "not every set has virial.npy" if pbc else "the system is not periodic"
    note = f"# no virial errors: {reason}"
    if detail_prefix:
        files = [str(_detail_path(detail_prefix, s)) for s in (".v.out", ".v_peratom.out")]
        note += f"; nothing written to {files[0]} and {files[1]}"
    print(note)


def _write_ener_details(prefix: str, system: str, label: Dict, pred: Dict, nat: int,
                        written: Set[Path], has_virial: bool) -> None:
    """Energy and force rows; virial rows only when the system has virial labels."""
    import numpy as np

    energy = np.concatenate([label["energy"].reshape(-1, 1), pred["energy"].reshape(-1, 1)], 1)
    _save(prefix, ".e.out", energy, f"{system}: data_e pred_e", written)
    _save(prefix, ".e_peratom.out", energy / nat, f"{system}: data_e pred_e", written)
    force = np.concatenate([label["force"].reshape(-1, 3), pred["force"].reshape(-1, 3)], 1)
    _save(prefix, ".f.out", force,
          f"{system}: data_fx data_fy data_fz pred_fx pred_fy pred_fz", written)
    if not has_virial:
        return
    virial = np.concatenate([label["virial"].reshape(-1, 9), pred["virial"].reshape(-1, 9)], 1)
    header = " ".join([f"data_v{c}" for c in _COMPONENTS] + [f"pred_v{c}" for c in _COMPONENTS])
    _save(prefix, ".v.out", virial, f"{system}: {header}", written)
    _save(prefix, ".v_peratom.out", virial / nat, f"{system}: {header}", written)


def _tensor_labels(system, key: str, force_atomic: bool) -> bool:
    """Whether to compare atomic labels (``atomic_<key>``) rather than global ones."""
    from deepmt.errors import DataError

    has = {k: all(k in info.sizes for info in system.sets) for k in (key, "atomic_" + key)}
    if has["atomic_" + key]:
        return True
    if force_atomic or not has[key]:
        wanted = f"atomic_{key}.npy" if force_atomic else f"{key}.npy or atomic_{key}.npy"
        raise DataError(
            f"data system {system.path!r} lacks {wanted} in (some of) its sets, so the "
            "tensor head cannot be tested on it.")
    return False


def _test_tensor(dt, path: str, args, written: Set[Path]) -> Tuple[List[Metric], int]:
    """RMSE of a dipole/polar head on one system (and its detail file).

    Returns the metrics and the number of frames tested.
    """
    import numpy as np
    from deepmt.data import DataRequirement, DataSystem

    key = {"dipole": "dipole", "polar": "polarizability"}[dt.kinds[0]]
    odim, sel = dt.output_dim, dt.get_sel_type()
    reqs = [DataRequirement(key, odim),
            DataRequirement("atomic_" + key, odim, atomic=True, type_sel=sel)]
    system = DataSystem(path, type_map=dt.get_type_map() or None,
                        requirements=reqs + _param_requirements(dt), set_prefix=args.set_prefix,
                        ntypes=dt.get_ntypes())
    atomic = _tensor_labels(system, key, args.atomic)
    label_key = "atomic_" + key if atomic else key
    labels, preds = [], []
    for batch in _batches(system, args.numb_test):
        cells = batch["box"] if system.pbc else None
        out = dt.eval(batch["coord"], cells, system.sorted_types, atomic=atomic,
                      **_params(dt, batch, system.natoms))
        preds.append(out.reshape(out.shape[0], -1))
        labels.append(batch[label_key])
    label, pred = np.concatenate(labels), np.concatenate(preds)
    nsel = int(np.isin(system.atom_types, sel).sum())
    name = "Dipole" if key == "dipole" else "Polarizability"
    rmse = _errors(pred - label, name, "")[1]._replace(labels="atomic" if atomic else "global")
    print(f"# labels : {label_key}.npy")
    metrics = [rmse]
    if not atomic:
        metrics += [rmse._replace(name=f"{name} RMSE/sqrtN", value=rmse.value / np.sqrt(nsel)),
                    rmse._replace(name=f"{name} RMSE/N", value=rmse.value / nsel)]
    if args.detail_file:
        _write_tensor_details(args.detail_file, path, label, pred, key,
                              nsel if atomic else 0, written)
    return metrics, label.shape[0]


def _write_tensor_details(prefix: str, system: str, label, pred, key: str, nsel: int,
                          written: Set[Path]) -> None:
    import numpy as np

    names = ["x", "y", "z"] if key == "dipole" else ["p" + c for c in _COMPONENTS]
    atoms = [str(i) for i in range(1, nsel + 1)] if nsel else [""]
    columns = [f"{n}{a}" for a in atoms for n in names]
    header = " ".join([f"data_{c}" for c in columns] + [f"pred_{c}" for c in columns])
    width = len(columns)
    data = np.concatenate([label.reshape(-1, width), pred.reshape(-1, width)], axis=1)
    _save(prefix, ".out", data, f"{system}: {header}", written)


def _print_metrics(metrics: List[Metric]) -> None:
    width = max(len(m.name) for m in metrics)
    for m in metrics:
        print(f"{m.name.ljust(width)} : {m.value:e} {m.unit}".rstrip())


def _weighted_average(per_system: List[List[Metric]]) -> List[Metric]:
    """Average every metric over systems, weighted by its number of values.

    Errors against atomic and against global tensor labels are averaged
    separately (and named so when both occur).
    """
    import numpy as np

    groups = list(dict.fromkeys((m.name, m.labels) for metrics in per_system for m in metrics))
    mixed = len({labels for _, labels in groups}) > 1
    averaged = []
    for name, labels in groups:
        found = [m for metrics in per_system for m in metrics
                 if (m.name, m.labels) == (name, labels)]
        weights = np.array([m.size for m in found], dtype=np.float64)
        values = np.array([m.value for m in found])
        if found[0].kind == "mae":
            value = float(np.sum(values * weights) / np.sum(weights))
        else:
            value = float(np.sqrt(np.sum(values ** 2 * weights) / np.sum(weights)))
        shown = f"{name} ({labels} labels)" if mixed else name
        averaged.append(found[0]._replace(name=shown, value=value, size=int(weights.sum())))
    return averaged


def run(args: argparse.Namespace) -> int:
    """Test the head on every system and print the errors."""
    from deepmt.data import expand_systems
    from deepmt.infer import DeepPot, DeepPotential

    if args.detail_file:
        _check_detail_prefix(args.detail_file)
    evaluator = DeepPotential(args.model, head=args.head)
    tester = _test_ener if isinstance(evaluator, DeepPot) else _test_tensor
    systems = expand_systems(args.system, where="-s/--system")
    print(f"# model {args.model}, head {evaluator.head} ({evaluator.kinds[0]})")
    per_system, written = [], set()
    for path in systems:
        print("# ---------------output of deepmt test---------------")
        print(f"# testing system : {path}")
        metrics, nframes = tester(evaluator, path, args, written)
        print(f"# number of test data : {nframes}")
        _print_metrics(metrics)
        if tester is _test_tensor:
            print("The unit of error is the same as the unit of provided label.")
        print("# -----------------------------------------------")
        per_system.append(metrics)
    if len(per_system) > 1:
        print("# ----------weighted average of errors-----------")
        print(f"# number of systems : {len(per_system)}")
        _print_metrics(_weighted_average(per_system))
        print("# -----------------------------------------------")
    return 0

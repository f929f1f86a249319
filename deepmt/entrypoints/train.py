"""``deepmt train INPUT``: train a single- or multi-task model.

Steps: read the input (JSON/YAML), complete it from a frozen model
(``--init-frz-model``, multi task), normalize and check it, run the
neighbour statistics (``sel: "auto"``), write the normalized input to
``-o/--output``, then train (:mod:`deepmt.train.trainer`).
"""

from __future__ import annotations


def add_parser(subparsers):
    """Add the ``train`` sub-parser."""
    parser = subparsers.add_parser(
        "train",
        help="train a model (one descriptor, one or several heads)",
        description="Train a model from a training input (JSON or YAML). The "
        "normalized input is written to --output, the learning curve to "
        "training/disp_file and checkpoints to training/save_ckpt.",
    )
    parser.add_argument("INPUT", help="training input file (.json, .yaml or .yml)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("-i", "--init-model", metavar="CKPT", default=None,
                       help="start a new run (step 0) from every variable of a checkpoint "
                       "(prefix such as model.ckpt-1000, or the folder of a run)")
    start.add_argument("-r", "--restart", metavar="CKPT", default=None,
                       help="continue a run from a checkpoint: step, learning rate and data "
                       "draws continue, and the learning curve is appended")
    start.add_argument("-f", "--init-frz-model", metavar="PB", default=None,
                       help="start from the weights of a frozen model; in a multi-task input, "
                       "an empty descriptor or head ({}) takes its configuration from it, and "
                       "heads it lacks get fresh data statistics")
    parser.add_argument("-o", "--output", default="out.json",
                        help="where to write the normalized input (default: out.json)")
    parser.add_argument("--skip-neighbor-stat", action="store_true",
                        help="skip the neighbour statistics (sel must then be a list)")
    return parser


def _write_json(path: str, data: dict) -> None:
    import json

    from deepmt.errors import ConfigError
    from deepmt.utils.files import atomic_write

    try:
        atomic_write(path, json.dumps(data, indent=4) + "\n")
    except OSError as err:
        raise ConfigError(f"cannot write the normalized input to {path!r}: "
                          f"{err.strerror}.") from None


def prepare(args) -> tuple:
    """Input -> ``(run spec, normalized script, min_nbor_dist)``; writes ``--output``."""
    from deepmt.train.config import load_input, make_run_spec, normalize
    from deepmt.train.frozen_script import complete_from_frozen
    from deepmt.train.stats import resolve_sel

    jdata = load_input(args.INPUT)
    if args.init_frz_model:
        jdata = complete_from_frozen(jdata, args.init_frz_model)
    script = normalize(jdata)
    min_nbor_dist = resolve_sel(script, skip=args.skip_neighbor_stat)
    _write_json(args.output, script)
    return make_run_spec(script), script, min_nbor_dist


def run(args) -> int:
    """Run ``deepmt train``; returns the exit status."""
    from deepmt.train.trainer import TrainOptions, train

    spec, script, min_nbor_dist = prepare(args)
    options = TrainOptions(init_model=args.init_model, restart=args.restart,
                           init_frz_model=args.init_frz_model, min_nbor_dist=min_nbor_dist)
    train(spec, script, options)
    return 0

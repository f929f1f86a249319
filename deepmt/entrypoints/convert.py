"""``deepmt convert``: any format dpdata reads -> deepmd/npy systems."""

from __future__ import annotations


def add_parser(subparsers):
    """Add the ``convert`` sub-parser."""
    parser = subparsers.add_parser(
        "convert",
        help="convert DFT/MD output (anything dpdata reads) into deepmd/npy systems",
        description="Read INPUT with dpdata (vasp/outcar, lammps/dump, qe/cp/traj, "
        "cp2k/output, gaussian/log, ase/traj, ...) and write a deepmd/npy system, "
        "optionally split at random into OUTDIR/train and OUTDIR/valid.",
    )
    parser.add_argument("input", help="input file or folder")
    parser.add_argument("-f", "--fmt", required=True,
                        help="dpdata format of INPUT, e.g. vasp/outcar")
    parser.add_argument("-o", "--output", required=True, help="output folder (new or empty)")
    parser.add_argument("--type-map", nargs="+", default=None, metavar="ELEMENT",
                        help="element order of type_map.raw (also names the types of "
                        "lammps files)")
    parser.add_argument("--split", type=float, default=0.0,
                        help="fraction of frames written to OUTDIR/valid (default: no split)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random split")
    return parser


def run(args) -> int:
    """Convert and log what was written."""
    import logging

    from deepmt.data.convert import convert

    log = logging.getLogger("deepmt.convert")
    written = convert(args.input, args.fmt, args.output, type_map=args.type_map,
                      split=args.split, seed=args.seed)
    for folder, nframes in written.items():
        log.info("wrote %d frame(s) to %s", nframes, folder)
    return 0

"""Names shared by the model, the trainer, the freezer and the inference API.

Frozen-graph layout ("multi_head_v1"): the inputs and the descriptor are
shared and unscoped; every head lives under ``heads/<head>/``.  A head name
must match :data:`HEAD_NAME_PATTERN`, which keeps it from ever colliding with
a graph node name, and may not be :data:`DEFAULT_HEAD_ALIAS`; the one test of
both is :func:`is_valid_head_name`.
"""

import re
from typing import Iterable, List, Mapping, Optional

FORMAT = "multi_head_v1"
MODEL_VERSION = "1.0"

#: head names: a letter, then letters, digits, '_', '.', '-' (64 at most)
HEAD_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
#: ``head="default"`` (any case) always means a file's default head, so no
#: head may carry this name
DEFAULT_HEAD_ALIAS = "default"
#: the head-name rule in words, for error messages
HEAD_NAME_RULE = ("a head name starts with a letter, followed by at most 63 letters, "
                  "digits, '_', '.' or '-', and may not be 'default' (in any case), "
                  "which inference reserves for the default head")
#: the head name used for a single-task input (``fitting_net`` + ``loss``)
SINGLE_TASK_HEAD = "main"

# --- shared inputs (placeholders) -------------------------------------------
T_COORD = "t_coord"    # float64 [nf * nall * 3], atoms sorted by type
T_TYPE = "t_type"      # int32   [nf * nall]
T_NATOMS = "t_natoms"  # int32   [2 + ntypes]: nloc, nall, n_type0, ...
T_BOX = "t_box"        # float64 [nf * 9], rows are cell vectors
T_MESH = "t_mesh"      # int32   [L]: 0 no pbc, 6 pbc, >16 serialized nlist
# per-head inputs: heads/<head>/t_fparam [nf * dim_fparam],
#                  heads/<head>/t_aparam [nf * nloc * dim_aparam]
T_FPARAM = "t_fparam"
T_APARAM = "t_aparam"
#: the shared input placeholders every model has
INPUTS = (T_COORD, T_TYPE, T_NATOMS, T_BOX, T_MESH)

# --- shared descriptor attributes and outputs -------------------------------
DESCRPT_RCUT = "descrpt_attr/rcut"        # float64 scalar
DESCRPT_NTYPES = "descrpt_attr/ntypes"    # int32 scalar
DESCRPT_SEL = "descrpt_attr/sel"          # int32 [ntypes]
TYPE_MAP = "model_attr/tmap"              # string, names joined by spaces
O_DESCRIPTOR = "o_descriptor"             # [nf, nloc, dim_out]
O_NLIST = "o_nlist"                       # int32 [nf, nloc * nnei]
O_RMAT = "o_rmat"                         # [nf, nloc * ndescrpt]
O_RMAT_DERIV = "o_rmat_deriv"             # [nf, nloc * ndescrpt * 3]
O_RIJ = "o_rij"                           # [nf, nloc * nnei * 3]
O_MAX_NNEI = "o_max_nnei"                 # int32 [nf, ntypes]
O_ROT_MAT = "o_rot_mat"                   # [nf * nloc, 3 * M1], only with tensor heads

# --- metadata constants ------------------------------------------------------
ATTR_FORMAT = "deepmt_attr/format"           # string FORMAT
ATTR_METADATA = "deepmt_attr/metadata"       # JSON string, see freeze
ATTR_TRAINING_SCRIPT = "train_attr/training_script"  # JSON string
ATTR_MIN_NBOR_DIST = "train_attr/min_nbor_dist"      # float64

# --- per-head outputs (relative to heads/<head>/) ---------------------------
O_ENERGY = "o_energy"            # float64 [nf]
O_FORCE = "o_force"              # [nf, nall * 3]        (tensor heads: [nf, odim * nall * 3])
O_VIRIAL = "o_virial"            # [nf, 9]               (tensor heads: [nf, odim * 9])
O_ATOM_ENERGY = "o_atom_energy"  # [nf, nloc]
O_ATOM_VIRIAL = "o_atom_virial"  # [nf, nall * 9]        (tensor heads: [nf, odim * nall * 9])
O_DIPOLE = "o_dipole"            # [nf, nsel * 3]
O_GLOBAL_DIPOLE = "o_global_dipole"  # [nf, 3]
O_POLAR = "o_polar"              # [nf, nsel * 9]
O_GLOBAL_POLAR = "o_global_polar"    # [nf, 9]


#: head kind -> outputs every head of that kind has (relative to heads/<head>/)
HEAD_OUTPUTS = {
    "ener": (O_ENERGY, O_FORCE, O_VIRIAL, O_ATOM_ENERGY, O_ATOM_VIRIAL),
    "dipole": (O_DIPOLE, O_GLOBAL_DIPOLE),
    "polar": (O_POLAR, O_GLOBAL_POLAR),
}


def is_valid_head_name(name) -> bool:
    """True when ``name`` obeys :data:`HEAD_NAME_RULE` (a str matching
    :data:`HEAD_NAME_PATTERN` that is not :data:`DEFAULT_HEAD_ALIAS`)."""
    return (isinstance(name, str) and HEAD_NAME_PATTERN.match(name) is not None
            and name.lower() != DEFAULT_HEAD_ALIAS)


def head_scope(head: str) -> str:
    """Name scope of a head's nodes: ``heads/<head>``."""
    return f"heads/{head}"


def head_node(head: str, name: str) -> str:
    """Full node name of a per-head node, e.g. ``heads/water/o_energy``."""
    return f"{head_scope(head)}/{name}"


def tensor_name(node: str) -> str:
    """First output tensor of a node: ``node:0``."""
    return f"{node}:0"


def match_head(requested: str, names: Iterable[str]) -> Optional[str]:
    """The head of ``names`` that ``requested`` means, or None.

    An exact match wins; otherwise the one name equal to ``requested``
    up to case (None when there is no such name or more than one).
    """
    names = list(names)
    if requested in names:
        return requested
    folded = [name for name in names if name.lower() == requested.lower()]
    return folded[0] if len(folded) == 1 else None


def describe_heads(heads: Mapping[str, Mapping]) -> str:
    """``"water (ener), dip (dipole)"``: head names with their kinds, for messages."""
    return ", ".join(f"{name} ({info['type']})" for name, info in heads.items())


def required_head_nodes(head: str, info: Mapping) -> List[str]:
    """Full names of the nodes a frozen head must have.

    The outputs of its kind (:data:`HEAD_OUTPUTS`, none for an unknown kind)
    and its ``t_fparam``/``t_aparam`` placeholders when it takes them.
    """
    names = list(HEAD_OUTPUTS.get(info.get("type"), ()))
    if int(info.get("dim_fparam", 0)):
        names.append(T_FPARAM)
    if int(info.get("dim_aparam", 0)):
        names.append(T_APARAM)
    return [head_node(head, name) for name in names]

// TensorFlow ops DmtEnvMatA and DmtEnvMatR: thin wrappers around
// deepmt::env_mat_frame (the TF-free library does the work).
#include <cstring>
#include <string>
#include <vector>

#include "deepmt/env_mat.h"
#include "op_util.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;  // NOLINT: TF registration macros expect it
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

namespace {

// Attribute checks shared by the shape function and the kernel.
Status check_env_attrs(float rcut, float rcut_smth, const std::vector<int>& sel) {
  deepmt::EnvMatParams p;
  p.rcut = rcut;
  p.rcut_smth = rcut_smth;
  p.sel = sel;
  try {
    p.validate();
  } catch (const deepmt::InputError& e) {
    return errors::InvalidArgument("attribute error: ", e.what());
  }
  return absl::OkStatus();
}

Status env_mat_shape(InferenceContext* c, int ncomp) {
  float rcut, rcut_smth;
  std::vector<int> sel;
  TF_RETURN_IF_ERROR(c->GetAttr("rcut", &rcut));
  TF_RETURN_IF_ERROR(c->GetAttr("rcut_smth", &rcut_smth));
  TF_RETURN_IF_ERROR(c->GetAttr("sel", &sel));
  TF_RETURN_IF_ERROR(check_env_attrs(rcut, rcut_smth, sel));
  ShapeHandle coord, type, natoms, box, mesh, davg, dstd;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 2, &coord));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &type));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(2), 1, &natoms));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(3), 2, &box));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(4), 1, &mesh));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(5), 2, &davg));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(6), 2, &dstd));
  shape_inference::DimensionHandle nf, unused;
  TF_RETURN_IF_ERROR(c->Merge(c->Dim(coord, 0), c->Dim(type, 0), &nf));
  int64_t nnei = 0;
  for (int s : sel) nnei += s;
  const int64_t ntypes = static_cast<int64_t>(sel.size());
  for (ShapeHandle stat : {davg, dstd}) {
    if (!c->WithValue(c->Dim(stat, 0), ntypes, &unused).ok() ||
        !c->WithValue(c->Dim(stat, 1), nnei * ncomp, &unused).ok()) {
      return errors::InvalidArgument("davg and dstd must have shape [ntypes = ", ntypes,
                                     ", ndesc = ", nnei * ncomp, "], got ",
                                     c->DebugString(stat));
    }
  }
  int64_t nloc, nall;
  deepmt_tf::constant_natoms(c, 2, &nloc, &nall);
  auto per_atom = [&](int64_t width) { return deepmt_tf::dim_or_unknown(c, nloc < 0 ? -1 : nloc * width); };
  c->set_output(0, c->Matrix(nf, per_atom(nnei * ncomp)));
  c->set_output(1, c->Matrix(nf, per_atom(nnei * ncomp * 3)));
  c->set_output(2, c->Matrix(nf, per_atom(nnei * 3)));
  c->set_output(3, c->Matrix(nf, per_atom(nnei)));
  c->set_output(4, c->Matrix(nf, ntypes));
  return absl::OkStatus();
}

}  // namespace

// TF parses Doc(): a summary line, a description (no line may start with
// "word:"), then one "name: text" entry per input, attr and output with
// continuation lines indented.
constexpr const char* kEnvMatDoc = R"doc(
For each local atom i (the first nloc of the nall atoms) the neighbours are the
atoms j != i with type >= 0 and |r_j - r_i| < rcut. They are sorted by (type,
float32 |r_ij|^2, index) and stored in type blocks of sel[t] slots, nearest
first. Extra neighbours are dropped (max_nnei says how many there were), empty
slots hold index -1, rij 0 and a zero raw row.
The switch is w = 1 for r < rcut_smth, u^3 (-6 u^2 + 15 u - 10) + 1 with
u = (r - rcut_smth) / (rcut - rcut_smth) for r < rcut, and 0 beyond.
Rows are normalized by the centre type t_i, (R - davg[t_i]) / dstd[t_i], so
empty slots hold -davg/dstd. The derivative dR/dr_i / dstd[t_i] is taken with
respect to the CENTRE atom (the neighbour's derivative is its negative).
Centres of negative type get zero rows (their nlist and rij are filled).

coord: [nf, nall*3] Cartesian coordinates (Angstrom).
type: [nf, nall] atom types in [0, ntypes); negative marks a virtual atom.
natoms: [2 + ntypes] = [nloc, nall, n_0, ..., n_{ntypes-1}].
box: [nf, 9] cell vectors as rows (read only when len(mesh) == 6).
mesh: neighbour mode given by the length. 0 = open boundaries, neighbours
  among the nall atoms. 6 = periodic: atoms wrapped into the cell, images
  built, nlist maps images back to local indices, rij is the image
  displacement; needs nall == nloc. 16 = LAMMPS raw pointers, laid out as in
  DeePMD-kit: int 0 ago (not read), int 1 inum (<= nloc), ints 4-7 the int*
  ilist, ints 8-11 the int* numneigh, ints 12-15 the int** firstneigh (each
  pointer copied from the first bytes of its 4-int block; ints 2-3 are not
  read). The arrays belong to the caller and must stay alive during the run;
  centres missing from ilist get no neighbours. More than 16 = serialized
  list [nloc, 0 x 15, ilist(nloc), numneigh(nloc), neighbours...]. External
  lists hold indices into the nall atoms.
davg: [ntypes, ndesc] mean subtracted per centre type.
dstd: [ntypes, ndesc] divisor per centre type.
rcut: cut-off radius (Angstrom), > 0.
rcut_smth: start of the switching region, <= rcut.
sel: slots per neighbour type, N = sum(sel).
descrpt: [nf, nloc*ndesc] normalized environment matrix.
descrpt_deriv: [nf, nloc*ndesc*3] its derivative w.r.t. the centre atom.
rij: [nf, nloc*N*3] displacement r_j - r_i per slot.
nlist: [nf, nloc*N] neighbour index per slot, -1 if empty.
max_nnei: [nf, ntypes] most type-t neighbours of any real centre, counted
  before truncation to sel[t].
)doc";

#define DEEPMT_ENV_MAT_OP(NAME, NCOMP, ROW_DOC)                                          \
  REGISTER_OP(NAME)                                                                      \
      .Attr("T: {float, double} = DT_DOUBLE")                                            \
      .Input("coord: T")                                                                 \
      .Input("type: int32")                                                              \
      .Input("natoms: int32")                                                            \
      .Input("box: T")                                                                   \
      .Input("mesh: int32")                                                              \
      .Input("davg: T")                                                                  \
      .Input("dstd: T")                                                                  \
      .Attr("rcut: float")                                                               \
      .Attr("rcut_smth: float")                                                          \
      .Attr("sel: list(int)")                                                            \
      .Output("descrpt: T")                                                              \
      .Output("descrpt_deriv: T")                                                        \
      .Output("rij: T")                                                                  \
      .Output("nlist: int32")                                                            \
      .Output("max_nnei: int32")                                                         \
      .SetShapeFn([](InferenceContext* c) { return env_mat_shape(c, NCOMP); })           \
      .Doc(std::string(ROW_DOC) + kEnvMatDoc);

DEEPMT_ENV_MAT_OP("DmtEnvMatA", 4,
                  "Smooth environment matrix of se_e2_a, ndesc = 4 N.\n\n"
                  "Per neighbour slot R = (w/r, w x/r^2, w y/r^2, w z/r^2) with\n"
                  "(x, y, z) = r_j - r_i.")
DEEPMT_ENV_MAT_OP("DmtEnvMatR", 1,
                  "Radial environment matrix of se_e2_r, ndesc = N.\n\n"
                  "Per neighbour slot R = w/r.")

namespace {

// Decodes the mesh into a neighbour mode (and external list when given).
bool decode_mesh(OpKernelContext* ctx, const Tensor& mesh, int nloc,
                 deepmt::NeighborMode* mode, deepmt::SerializedNeighbors* serialized,
                 deepmt::ExternalNeighbors* raw) {
  const int64_t len = mesh.NumElements();
  const int* m = mesh.flat<int>().data();
  if (len == 0) {
    *mode = deepmt::NeighborMode::kOpen;
  } else if (len == 6) {
    *mode = deepmt::NeighborMode::kPeriodic;
  } else if (len == 16) {
    *mode = deepmt::NeighborMode::kExternal;
    raw->inum = m[1];
    std::memcpy(&raw->ilist, m + 4, sizeof(int*));
    std::memcpy(&raw->numneigh, m + 8, sizeof(int*));
    std::memcpy(&raw->firstneigh, m + 12, sizeof(int**));
  } else if (len > 16) {
    *mode = deepmt::NeighborMode::kExternal;
    return deepmt_tf::run_guarded(ctx, ctx->op_kernel().type_string(), [&] {
      deepmt::unpack_serialized_nlist(*serialized, m, len, nloc);
      *raw = serialized->view;
    });
  } else {
    ctx->SetStatus(errors::InvalidArgument(
        ctx->op_kernel().type_string(), ": input 'mesh' must have length 0 (open), 6 (periodic), ",
        "16 (LAMMPS pointers) or > 16 (serialized neighbour list), got ", len));
    return false;
  }
  return true;
}

template <typename T, bool kRadial>
class EnvMatOp : public OpKernel {
 public:
  explicit EnvMatOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("rcut", &params_.rcut));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("rcut_smth", &params_.rcut_smth));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("sel", &params_.sel));
    params_.radial = kRadial;
    OP_REQUIRES_OK(ctx, check_env_attrs(params_.rcut, params_.rcut_smth, params_.sel));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& coord = ctx->input(0);
    const Tensor& type = ctx->input(1);
    const Tensor& box = ctx->input(3);
    const Tensor& mesh = ctx->input(4);
    int nloc, nall;
    if (!check_inputs(ctx, &nloc, &nall)) return;
    deepmt::NeighborMode mode;
    deepmt::SerializedNeighbors serialized;
    deepmt::ExternalNeighbors external;
    if (!decode_mesh(ctx, mesh, nloc, &mode, &serialized, &external)) return;
    const int64_t nf = coord.dim_size(0);
    if (mode == deepmt::NeighborMode::kPeriodic) {
      if (!deepmt_tf::require_dim(ctx, box, 0, nf, "box", "nf (frames of coord)")) return;
      if (!deepmt_tf::require_dim(ctx, box, 1, 9, "box", "9 (three cell vectors)")) return;
    }
    const int64_t nnei = params_.nnei(), ndesc = params_.ndesc(), ntypes = params_.ntypes();
    const deepmt_tf::TfExecutor exec(ctx);
    Tensor *descrpt, *deriv, *rij, *nlist, *max_nnei;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({nf, nloc * ndesc}), &descrpt));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({nf, nloc * ndesc * 3}), &deriv));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, TensorShape({nf, nloc * nnei * 3}), &rij));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(3, TensorShape({nf, nloc * nnei}), &nlist));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(4, TensorShape({nf, ntypes}), &max_nnei));
    for (int64_t f = 0; f < nf; ++f) {
      deepmt::EnvMatFrameInput<T> in;
      in.coord = coord.matrix<T>().data() + f * nall * 3;
      in.type = type.matrix<int>().data() + f * nall;
      in.nloc = nloc;
      in.nall = nall;
      in.mode = mode;
      in.box = mode == deepmt::NeighborMode::kPeriodic ? box.matrix<T>().data() + f * 9 : nullptr;
      in.external = &external;
      in.davg = ctx->input(5).matrix<T>().data();
      in.dstd = ctx->input(6).matrix<T>().data();
      deepmt::EnvMatFrameOutput<T> out;
      out.descrpt = descrpt->matrix<T>().data() + f * nloc * ndesc;
      out.descrpt_deriv = deriv->matrix<T>().data() + f * nloc * ndesc * 3;
      out.rij = rij->matrix<T>().data() + f * nloc * nnei * 3;
      out.nlist = nlist->matrix<int>().data() + f * nloc * nnei;
      out.max_nnei = max_nnei->matrix<int>().data() + f * ntypes;
      const std::string where = type_string() + " (frame " + std::to_string(f) + ")";
      if (!deepmt_tf::run_guarded(ctx, where, [&] { deepmt::env_mat_frame(params_, in, out, &exec); }))
        return;
    }
  }

 private:
  // Ranks and sizes of every input; reads nloc / nall from natoms.
  bool check_inputs(OpKernelContext* ctx, int* nloc, int* nall) {
    using deepmt_tf::require_dim;
    using deepmt_tf::require_rank;
    const Tensor& coord = ctx->input(0);
    const Tensor& type = ctx->input(1);
    const Tensor& natoms = ctx->input(2);
    const Tensor& davg = ctx->input(5);
    const Tensor& dstd = ctx->input(6);
    if (!require_rank(ctx, coord, 2, "coord", "[nf, nall*3]") ||
        !require_rank(ctx, type, 2, "type", "[nf, nall]") ||
        !require_rank(ctx, ctx->input(3), 2, "box", "[nf, 9]") ||
        !require_rank(ctx, ctx->input(4), 1, "mesh", "[L]") ||
        !require_rank(ctx, davg, 2, "davg", "[ntypes, ndesc]") ||
        !require_rank(ctx, dstd, 2, "dstd", "[ntypes, ndesc]") ||
        !deepmt_tf::read_natoms(ctx, natoms, nloc, nall))
      return false;
    const int64_t ntypes = params_.ntypes();
    if (natoms.NumElements() - 2 != ntypes) {
      ctx->SetStatus(errors::InvalidArgument(
          type_string(), ": input 'natoms' has ", natoms.NumElements() - 2,
          " per-type counts but attribute 'sel' has ", ntypes, " types"));
      return false;
    }
    const int64_t nf = coord.dim_size(0);
    return require_dim(ctx, type, 0, nf, "type", "nf (frames of coord)") &&
           require_dim(ctx, coord, 1, int64_t(*nall) * 3, "coord", "nall*3") &&
           require_dim(ctx, type, 1, *nall, "type", "nall") &&
           require_dim(ctx, davg, 0, ntypes, "davg", "ntypes = len(sel)") &&
           require_dim(ctx, davg, 1, params_.ndesc(), "davg", "ndesc") &&
           require_dim(ctx, dstd, 0, ntypes, "dstd", "ntypes = len(sel)") &&
           require_dim(ctx, dstd, 1, params_.ndesc(), "dstd", "ndesc");
  }

  deepmt::EnvMatParams params_;
};

}  // namespace

REGISTER_KERNEL_BUILDER(Name("DmtEnvMatA").Device(DEVICE_CPU).TypeConstraint<float>("T"),
                        EnvMatOp<float, false>);
REGISTER_KERNEL_BUILDER(Name("DmtEnvMatA").Device(DEVICE_CPU).TypeConstraint<double>("T"),
                        EnvMatOp<double, false>);
REGISTER_KERNEL_BUILDER(Name("DmtEnvMatR").Device(DEVICE_CPU).TypeConstraint<float>("T"),
                        EnvMatOp<float, true>);
REGISTER_KERNEL_BUILDER(Name("DmtEnvMatR").Device(DEVICE_CPU).TypeConstraint<double>("T"),
                        EnvMatOp<double, true>);

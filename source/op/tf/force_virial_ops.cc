// TensorFlow ops DmtProdForce, DmtProdVirial and their adjoints
// DmtProdForceGrad, DmtProdVirialGrad: thin wrappers around
// deepmt/force_virial.h.
#include <string>

#include "deepmt/force_virial.h"
#include "op_util.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

using namespace tensorflow;  // NOLINT: TF registration macros expect it
using shape_inference::InferenceContext;
using shape_inference::ShapeHandle;

namespace {

// TF parses Doc(): a summary line, a description (no line may start with
// "word:"), then one "name: text" entry per input and output.
constexpr const char* kLayoutDoc = R"doc(
Per frame there are nloc centres, N = nlist.shape[1] / nloc slots per centre
and ncomp = net_deriv.shape[1] / (nloc * N) numbers per slot (4 for se_e2_a,
1 for se_e2_r). Below g = net_deriv [nloc, N, ncomp] = dE/dR~, e = in_deriv
[nloc, N, ncomp, 3] = dR~/dr_i (w.r.t. the centre), x = rij [nloc, N, 3],
n = nlist [nloc, N] (neighbour index in [0, nall), negative = empty slot) and
q_ij = sum_c g[i, j, c] e[i, j, c, :].
)doc";

constexpr const char* kPairArgsDoc = R"doc(
net_deriv: [nf, nloc*N*ncomp] derivative of the energy w.r.t. the descriptor.
in_deriv: [nf, nloc*N*ncomp*3] descrpt_deriv of the environment-matrix op.
nlist: [nf, nloc*N] nlist of the environment-matrix op.
natoms: [2 + ntypes] = [nloc, nall, n_0, ...] (int32, at least 3 entries).
)doc";

constexpr const char* kRijDoc = "rij: [nf, nloc*N*3] rij of the environment-matrix op.\n";

// Assembles an op's Doc(): summary/formula, layout, argument entries.
std::string pair_op_doc(const char* summary, bool with_rij, const char* extra_args) {
  return std::string(summary) + kLayoutDoc + kPairArgsDoc + (with_rij ? kRijDoc : "") + extra_args;
}

// Rank-2 inputs and the leading dimension nf shared by all of them.
Status frames_shape(InferenceContext* c, int first, int last, shape_inference::DimensionHandle* nf) {
  ShapeHandle s;
  *nf = c->UnknownDim();
  for (int k = first; k <= last; ++k) {
    TF_RETURN_IF_ERROR(c->WithRank(c->input(k), 2, &s));
    TF_RETURN_IF_ERROR(c->Merge(*nf, c->Dim(s, 0), nf));
  }
  return absl::OkStatus();
}

Status force_shape(InferenceContext* c) {
  shape_inference::DimensionHandle nf;
  TF_RETURN_IF_ERROR(frames_shape(c, 0, 2, &nf));
  int64_t nloc, nall;
  deepmt_tf::constant_natoms(c, 3, &nloc, &nall);
  c->set_output(0, c->Matrix(nf, deepmt_tf::dim_or_unknown(c, nall < 0 ? -1 : nall * 3)));
  return absl::OkStatus();
}

Status virial_shape(InferenceContext* c) {
  shape_inference::DimensionHandle nf;
  TF_RETURN_IF_ERROR(frames_shape(c, 0, 3, &nf));
  int64_t nloc, nall;
  deepmt_tf::constant_natoms(c, 4, &nloc, &nall);
  c->set_output(0, c->Matrix(nf, 9));
  c->set_output(1, c->Matrix(nf, deepmt_tf::dim_or_unknown(c, nall < 0 ? -1 : nall * 9)));
  return absl::OkStatus();
}

// The gradient has the shape of net_deriv (input 1).
Status grad_shape(InferenceContext* c) {
  ShapeHandle s;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 2, &s));
  c->set_output(0, s);
  return absl::OkStatus();
}

}  // namespace

REGISTER_OP("DmtProdForce")
    .Attr("T: {float, double} = DT_DOUBLE")
    .Input("net_deriv: T")
    .Input("in_deriv: T")
    .Input("nlist: int32")
    .Input("natoms: int32")
    .Output("force: T")
    .SetShapeFn(force_shape)
    .Doc(pair_op_doc(R"doc(Forces from the derivative of the energy w.r.t. the environment matrix.

F_k = -sum_j q_kj + sum over pairs (i, j) with nlist[i, j] = k of q_ij, for k
in [0, nall); the first term exists for local atoms only, and every image of an
atom adds to that atom.)doc",
                          false, R"doc(force: [nf, nall*3] force on every atom (eV/Angstrom).
)doc"));

REGISTER_OP("DmtProdVirial")
    .Attr("T: {float, double} = DT_DOUBLE")
    .Input("net_deriv: T")
    .Input("in_deriv: T")
    .Input("rij: T")
    .Input("nlist: int32")
    .Input("natoms: int32")
    .Output("virial: T")
    .Output("atom_virial: T")
    .SetShapeFn(virial_shape)
    .Doc(pair_op_doc(R"doc(Virial from the derivative of the energy w.r.t. the environment matrix.

virial[a*3+b] = sum over filled slots (i, j) of q_ij[a] * rij[i, j, b]. The
atom virial of k is the same sum restricted to the pairs whose neighbour is k
(the whole pair term goes to the neighbour, none to the centre), so the atom
virials add up to the virial.)doc",
                          true, R"doc(virial: [nf, 9] virial (eV), row-major 3 x 3.
atom_virial: [nf, nall*9] per-atom virial (eV).
)doc"));

REGISTER_OP("DmtProdForceGrad")
    .Attr("T: {float, double} = DT_DOUBLE")
    .Input("grad: T")
    .Input("net_deriv: T")
    .Input("in_deriv: T")
    .Input("nlist: int32")
    .Input("natoms: int32")
    .Output("grad_net: T")
    .SetShapeFn(grad_shape)
    .Doc(pair_op_doc(R"doc(Adjoint of DmtProdForce with respect to net_deriv.

DmtProdForce is linear in net_deriv, whose values are therefore not used.
With G = grad, grad_net[i, j, c] = -G_i . e[i, j, c] + G_k . e[i, j, c] where
k = nlist[i, j] is a filled slot. G covers nall atoms (exact adjoint) or nloc
atoms, in which case k is read modulo nloc as DeePMD-kit does.)doc",
                          false, R"doc(grad: [nf, nall*3] or [nf, nloc*3] gradient with respect to the force.
grad_net: [nf, nloc*N*ncomp] gradient with respect to net_deriv.
)doc"));

REGISTER_OP("DmtProdVirialGrad")
    .Attr("T: {float, double} = DT_DOUBLE")
    .Input("grad: T")
    .Input("net_deriv: T")
    .Input("in_deriv: T")
    .Input("rij: T")
    .Input("nlist: int32")
    .Input("natoms: int32")
    .Output("grad_net: T")
    .SetShapeFn(grad_shape)
    .Doc(pair_op_doc(R"doc(Adjoint of the virial output of DmtProdVirial with respect to net_deriv.

The atom virial has no gradient. With G = grad, grad_net[i, j, c] =
sum_ab G[a*3+b] e[i, j, c, a] rij[i, j, b] for filled slots, 0 for empty ones.)doc",
                          true, R"doc(grad: [nf, 9] gradient with respect to the virial.
grad_net: [nf, nloc*N*ncomp] gradient with respect to net_deriv.
)doc"));

namespace {

// Checks the pair inputs shared by all four ops and infers the layout.
// Inputs are given by index (net_deriv, in_deriv, nlist, natoms, rij or -1).
bool read_layout(OpKernelContext* ctx, int i_net, int i_in, int i_nlist, int i_natoms,
                 int i_rij, deepmt::PairLayout* L, int64_t* nf) {
  using deepmt_tf::require_dim;
  using deepmt_tf::require_rank;
  const Tensor& net = ctx->input(i_net);
  const Tensor& in = ctx->input(i_in);
  const Tensor& nlist = ctx->input(i_nlist);
  if (!require_rank(ctx, net, 2, "net_deriv", "[nf, nloc*N*ncomp]") ||
      !require_rank(ctx, in, 2, "in_deriv", "[nf, nloc*N*ncomp*3]") ||
      !require_rank(ctx, nlist, 2, "nlist", "[nf, nloc*N]") ||
      !deepmt_tf::read_natoms(ctx, ctx->input(i_natoms), &L->nloc, &L->nall))
    return false;
  *nf = net.dim_size(0);
  const int64_t nloc = L->nloc;
  if (nloc > 0 && nlist.dim_size(1) % nloc != 0) {
    ctx->SetStatus(errors::InvalidArgument(
        ctx->op_kernel().type_string(), ": input 'nlist' has ", nlist.dim_size(1),
        " columns, not a multiple of nloc = ", nloc));
    return false;
  }
  L->nnei = nloc > 0 ? static_cast<int>(nlist.dim_size(1) / nloc) : 0;
  const int64_t npair = nloc * L->nnei;
  if (npair > 0 && (net.dim_size(1) % npair != 0 || net.dim_size(1) == 0)) {
    ctx->SetStatus(errors::InvalidArgument(
        ctx->op_kernel().type_string(), ": input 'net_deriv' has ", net.dim_size(1),
        " columns, not a multiple of nloc*N = ", npair, " (N from nlist)"));
    return false;
  }
  L->ncomp = npair > 0 ? static_cast<int>(net.dim_size(1) / npair) : 1;
  if (!require_dim(ctx, in, 0, *nf, "in_deriv", "nf") ||
      !require_dim(ctx, nlist, 0, *nf, "nlist", "nf") ||
      !require_dim(ctx, net, 1, npair * L->ncomp, "net_deriv", "nloc*N*ncomp") ||
      !require_dim(ctx, in, 1, npair * L->ncomp * 3, "in_deriv", "nloc*N*ncomp*3"))
    return false;
  if (i_rij >= 0) {
    const Tensor& rij = ctx->input(i_rij);
    if (!require_rank(ctx, rij, 2, "rij", "[nf, nloc*N*3]") ||
        !require_dim(ctx, rij, 0, *nf, "rij", "nf") ||
        !require_dim(ctx, rij, 1, npair * 3, "rij", "nloc*N*3"))
      return false;
  }
  return true;
}

template <typename T>
class ProdForceOp : public OpKernel {
 public:
  explicit ProdForceOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    deepmt::PairLayout L;
    int64_t nf;
    if (!read_layout(ctx, 0, 1, 2, 3, -1, &L, &nf)) return;
    Tensor* force;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({nf, int64_t(L.nall) * 3}), &force));
    const int64_t npair = int64_t(L.nloc) * L.nnei;
    const deepmt_tf::TfExecutor exec(ctx);
    deepmt_tf::for_each_frame(ctx, nf, [&](int64_t f) {
      deepmt::prod_force(force->matrix<T>().data() + f * L.nall * 3,
                         ctx->input(0).matrix<T>().data() + f * npair * L.ncomp,
                         ctx->input(1).matrix<T>().data() + f * npair * L.ncomp * 3,
                         ctx->input(2).matrix<int>().data() + f * npair, L, &exec);
    });
  }
};

template <typename T>
class ProdVirialOp : public OpKernel {
 public:
  explicit ProdVirialOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    deepmt::PairLayout L;
    int64_t nf;
    if (!read_layout(ctx, 0, 1, 3, 4, 2, &L, &nf)) return;
    Tensor *virial, *atom_virial;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({nf, 9}), &virial));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({nf, int64_t(L.nall) * 9}), &atom_virial));
    const int64_t npair = int64_t(L.nloc) * L.nnei;
    const deepmt_tf::TfExecutor exec(ctx);
    deepmt_tf::for_each_frame(ctx, nf, [&](int64_t f) {
      deepmt::prod_virial(virial->matrix<T>().data() + f * 9,
                          atom_virial->matrix<T>().data() + f * L.nall * 9,
                          ctx->input(0).matrix<T>().data() + f * npair * L.ncomp,
                          ctx->input(1).matrix<T>().data() + f * npair * L.ncomp * 3,
                          ctx->input(2).matrix<T>().data() + f * npair * 3,
                          ctx->input(3).matrix<int>().data() + f * npair, L, &exec);
    });
  }
};

template <typename T>
class ProdForceGradOp : public OpKernel {
 public:
  explicit ProdForceGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    deepmt::PairLayout L;
    int64_t nf;
    if (!read_layout(ctx, 1, 2, 3, 4, -1, &L, &nf)) return;
    const Tensor& grad = ctx->input(0);
    if (!deepmt_tf::require_rank(ctx, grad, 2, "grad", "[nf, nloc*3]") ||
        !deepmt_tf::require_dim(ctx, grad, 0, nf, "grad", "nf"))
      return;
    const int64_t width = grad.dim_size(1);
    OP_REQUIRES(ctx, width == int64_t(L.nloc) * 3 || width == int64_t(L.nall) * 3,
                errors::InvalidArgument(type_string(), ": input 'grad' has shape ",
                                        grad.shape().DebugString(), "; dimension 1 must be nloc*3 = ",
                                        L.nloc * 3, " or nall*3 = ", L.nall * 3));
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, ctx->input(1).shape(), &out));
    const int64_t npair = int64_t(L.nloc) * L.nnei;
    const deepmt_tf::TfExecutor exec(ctx);
    deepmt_tf::for_each_frame(ctx, nf, [&](int64_t f) {
      deepmt::prod_force_grad(out->matrix<T>().data() + f * npair * L.ncomp,
                              grad.matrix<T>().data() + f * width,
                              ctx->input(2).matrix<T>().data() + f * npair * L.ncomp * 3,
                              ctx->input(3).matrix<int>().data() + f * npair, L,
                              static_cast<int>(width / 3), &exec);
    });
  }
};

template <typename T>
class ProdVirialGradOp : public OpKernel {
 public:
  explicit ProdVirialGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}
  void Compute(OpKernelContext* ctx) override {
    deepmt::PairLayout L;
    int64_t nf;
    if (!read_layout(ctx, 1, 2, 4, 5, 3, &L, &nf)) return;
    const Tensor& grad = ctx->input(0);
    if (!deepmt_tf::require_rank(ctx, grad, 2, "grad", "[nf, 9]") ||
        !deepmt_tf::require_dim(ctx, grad, 0, nf, "grad", "nf") ||
        !deepmt_tf::require_dim(ctx, grad, 1, 9, "grad", "9"))
      return;
    Tensor* out;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, ctx->input(1).shape(), &out));
    const int64_t npair = int64_t(L.nloc) * L.nnei;
    const deepmt_tf::TfExecutor exec(ctx);
    deepmt_tf::for_each_frame(ctx, nf, [&](int64_t f) {
      deepmt::prod_virial_grad(out->matrix<T>().data() + f * npair * L.ncomp,
                               grad.matrix<T>().data() + f * 9,
                               ctx->input(2).matrix<T>().data() + f * npair * L.ncomp * 3,
                               ctx->input(3).matrix<T>().data() + f * npair * 3,
                               ctx->input(4).matrix<int>().data() + f * npair, L, &exec);
    });
  }
};

}  // namespace

#define DEEPMT_REGISTER(NAME, KERNEL)                                                    \
  REGISTER_KERNEL_BUILDER(Name(NAME).Device(DEVICE_CPU).TypeConstraint<float>("T"),      \
                          KERNEL<float>);                                                \
  REGISTER_KERNEL_BUILDER(Name(NAME).Device(DEVICE_CPU).TypeConstraint<double>("T"),     \
                          KERNEL<double>);
DEEPMT_REGISTER("DmtProdForce", ProdForceOp)
DEEPMT_REGISTER("DmtProdVirial", ProdVirialOp)
DEEPMT_REGISTER("DmtProdForceGrad", ProdForceGradOp)
DEEPMT_REGISTER("DmtProdVirialGrad", ProdVirialGradOp)
#undef DEEPMT_REGISTER

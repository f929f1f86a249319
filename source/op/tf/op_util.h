// Helpers shared by the deepmt TensorFlow kernels: exception guard and
// input checks that fail with errors::InvalidArgument naming the tensor.
#pragma once

#include <new>
#include <stdexcept>
#include <string>

#include "deepmt/errors.h"
#include "deepmt/parallel.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/platform/threadpool.h"

namespace deepmt_tf {

// Runs the library's parallel loops on TensorFlow's intra-op thread pool
// (its size follows ConfigProto.intra_op_parallelism_threads; the calling
// thread takes part). Results do not depend on the partition.
class TfExecutor : public deepmt::Executor {
 public:
  explicit TfExecutor(tensorflow::OpKernelContext* ctx)
      : pool_(ctx->device()->tensorflow_cpu_worker_threads()->workers) {}

  void run(long n, long cost_per_item,
           const std::function<void(long, long)>& body) const override {
    if (n <= 0) return;
    pool_->ParallelFor(n, cost_per_item, [&body](int64_t begin, int64_t end) { body(begin, end); });
  }

 private:
  tensorflow::thread::ThreadPool* pool_;
};

// Runs fn(); a C++ exception becomes a failed status on ctx (InputError ->
// InvalidArgument, bad_alloc -> ResourceExhausted, others -> Internal) with
// `where` as prefix. Returns false when fn failed.
template <typename Fn>
bool run_guarded(tensorflow::OpKernelContext* ctx, const std::string& where, Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const deepmt::InputError& e) {
    ctx->SetStatus(tensorflow::errors::InvalidArgument(where, ": ", e.what()));
  } catch (const std::bad_alloc&) {
    ctx->SetStatus(tensorflow::errors::ResourceExhausted(where, ": out of memory"));
  } catch (const std::exception& e) {
    ctx->SetStatus(tensorflow::errors::Internal(where, ": ", e.what()));
  } catch (...) {
    ctx->SetStatus(tensorflow::errors::Internal(where, ": unknown C++ exception"));
  }
  return false;
}

// Runs body(f) for every frame f < nf under run_guarded; an error names the
// op and the frame. Returns false (status already set) on the first failure.
template <typename Body>
bool for_each_frame(tensorflow::OpKernelContext* ctx, int64_t nf, Body&& body) {
  for (int64_t f = 0; f < nf; ++f) {
    const std::string where =
        ctx->op_kernel().type_string() + " (frame " + std::to_string(f) + ")";
    if (!run_guarded(ctx, where, [&] { body(f); })) return false;
  }
  return true;
}

// Fails ctx unless tensor `t` (called `name`) has rank `rank`.
inline bool require_rank(tensorflow::OpKernelContext* ctx, const tensorflow::Tensor& t,
                         int rank, const char* name, const char* expected) {
  if (t.dims() == rank) return true;
  ctx->SetStatus(tensorflow::errors::InvalidArgument(
      ctx->op_kernel().type_string(), ": input '", name, "' must have shape ", expected,
      " (rank ", rank, "), got shape ", t.shape().DebugString()));
  return false;
}

// Fails ctx unless `actual` == `expected` for dimension `dim` of `name`.
inline bool require_dim(tensorflow::OpKernelContext* ctx, const tensorflow::Tensor& t,
                        int dim, int64_t expected, const char* name, const std::string& what) {
  if (t.dim_size(dim) == expected) return true;
  ctx->SetStatus(tensorflow::errors::InvalidArgument(
      ctx->op_kernel().type_string(), ": input '", name, "' has shape ",
      t.shape().DebugString(), " but dimension ", dim, " must be ", what, " = ", expected));
  return false;
}

// Reads natoms = [nloc, nall, n_0, ...]; fails ctx if it is malformed.
inline bool read_natoms(tensorflow::OpKernelContext* ctx, const tensorflow::Tensor& natoms,
                        int* nloc, int* nall) {
  if (!require_rank(ctx, natoms, 1, "natoms", "[2 + ntypes]")) return false;
  if (natoms.NumElements() < 3) {
    ctx->SetStatus(tensorflow::errors::InvalidArgument(
        ctx->op_kernel().type_string(),
        ": input 'natoms' must hold [nloc, nall, n_type0, ...] with at least 3 entries, got ",
        natoms.NumElements()));
    return false;
  }
  auto v = natoms.flat<int>();
  *nloc = v(0);
  *nall = v(1);
  if (*nloc < 0 || *nall < *nloc) {
    ctx->SetStatus(tensorflow::errors::InvalidArgument(
        ctx->op_kernel().type_string(), ": input 'natoms' must satisfy 0 <= nloc <= nall, got nloc = ",
        *nloc, ", nall = ", *nall));
    return false;
  }
  return true;
}

// Shape-function helper: nloc and nall from a constant natoms, or -1.
inline void constant_natoms(tensorflow::shape_inference::InferenceContext* c, int index,
                            int64_t* nloc, int64_t* nall) {
  *nloc = -1;
  *nall = -1;
  const tensorflow::Tensor* t = c->input_tensor(index);
  if (t != nullptr && t->NumElements() >= 2 && t->dtype() == tensorflow::DT_INT32) {
    auto v = t->flat<int>();
    *nloc = v(0);
    *nall = v(1);
  }
}

// Shape-function helper: a dimension of size n, or unknown when n < 0.
inline tensorflow::shape_inference::DimensionHandle dim_or_unknown(
    tensorflow::shape_inference::InferenceContext* c, int64_t n) {
  return n < 0 ? c->UnknownDim() : c->MakeDim(n);
}

}  // namespace deepmt_tf

// Parallel loops over independent items (atoms), never letting an exception
// escape a worker thread (an escaping exception would call std::terminate).
//
// Every item must write only its own outputs: results are then identical for
// any number of threads and any partition of the items.
//
// By default loops run on the OpenMP thread team. A caller that owns a thread
// pool (the TensorFlow kernels use TF's intra-op pool, so the thread count
// follows the session configuration and no second pool competes with TF's)
// passes an Executor instead.
#pragma once

#include <exception>
#include <functional>
#include <mutex>

namespace deepmt {

// Runs body(begin, end) over a partition of [0, n) and returns when all the
// pieces are done. cost_per_item is a rough cost in CPU cycles (for sharding).
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void run(long n, long cost_per_item,
                   const std::function<void(long, long)>& body) const = 0;
};

// Calls fn(i) for i in [0, n), on `exec` if given, else on OpenMP threads;
// the first exception thrown by any item is re-thrown after the loop.
template <typename Fn>
void parallel_for(long n, Fn&& fn, const Executor* exec = nullptr, long cost_per_item = 10000) {
  std::exception_ptr error = nullptr;
  if (exec != nullptr) {
    std::mutex lock;
    exec->run(n, cost_per_item, [&](long begin, long end) {
      try {
        for (long i = begin; i < end; ++i) fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> guard(lock);
        if (!error) error = std::current_exception();
      }
    });
  } else {
#pragma omp parallel for schedule(dynamic, 16)
    for (long i = 0; i < n; ++i) {
      try {
        fn(i);
      } catch (...) {
#pragma omp critical(deepmt_parallel_error)
        {
          if (!error) error = std::current_exception();
        }
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

// Number of OpenMP threads parallel_for uses without an executor.
int max_threads();

// Sets the OpenMP thread count of later parallel_for calls (no-op without OpenMP).
void set_num_threads(int n);

}  // namespace deepmt

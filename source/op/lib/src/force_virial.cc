// Force / virial assembly and their adjoints (see deepmt/force_virial.h).
//
// Scatter-free formulation: a neighbour's force and atom virial are
// gathered over the pairs that point at it, listed by a counting sort of
// nlist in increasing pair order, so each output element is a sum in a
// fixed order whatever the number of threads.
#include "deepmt/force_virial.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "deepmt/errors.h"
#include "deepmt/parallel.h"

namespace deepmt {

namespace {

// q = sum_c g_{i,jc} e_{i,jc,:} for the pair at flat slot index `pair`.
template <typename T>
inline void pair_vector(T* q, const T* net_deriv, const T* in_deriv, long pair, int ncomp) {
  const T* g = net_deriv + pair * ncomp;
  const T* e = in_deriv + pair * ncomp * 3;
  q[0] = q[1] = q[2] = T(0);
  for (int c = 0; c < ncomp; ++c) {
    for (int d = 0; d < 3; ++d) q[d] += g[c] * e[3 * c + d];
  }
}

// Pairs grouped by neighbour: pairs of atom k are list[start[k]..start[k+1]).
// Pair ids are int32 (half the memory traffic of 64-bit ids).
struct PairsByNeighbor {
  std::vector<int> start;
  std::vector<int> list;
};

PairsByNeighbor group_pairs(const int* nlist, const PairLayout& L) {
  const long npair = static_cast<long>(L.nloc) * L.nnei;
  if (npair > 2147483647L) throw InputError("too many neighbour slots (nloc * N >= 2^31)");
  PairsByNeighbor g;
  g.start.assign(static_cast<size_t>(L.nall) + 1, 0);
  for (int p = 0; p < npair; ++p) {
    if (nlist[p] >= 0) ++g.start[nlist[p] + 1];
  }
  for (int k = 0; k < L.nall; ++k) g.start[k + 1] += g.start[k];
  g.list.resize(g.start[L.nall]);
  std::vector<int> fill(g.start.begin(), g.start.end() - 1);
  for (int p = 0; p < npair; ++p) {
    if (nlist[p] >= 0) g.list[fill[nlist[p]]++] = p;
  }
  return g;
}

}  // namespace

void check_nlist(const int* nlist, const PairLayout& L) {
  const long npair = static_cast<long>(L.nloc) * L.nnei;
  for (long p = 0; p < npair; ++p) {
    if (nlist[p] >= L.nall) {
      std::ostringstream msg;
      msg << "nlist entry " << nlist[p] << " (centre " << p / L.nnei << ", slot "
          << p % L.nnei << ") is not below nall = " << L.nall;
      throw InputError(msg.str());
    }
  }
}

template <typename T>
void prod_force(T* force, const T* net_deriv, const T* in_deriv, const int* nlist,
                const PairLayout& L, const Executor* exec) {
  check_nlist(nlist, L);
  const PairsByNeighbor pairs = group_pairs(nlist, L);
  parallel_for(L.nall, [&](long k) {
    T f[3] = {T(0), T(0), T(0)}, q[3];
    if (k < L.nloc) {  // k as a centre: every slot, filled or not
      for (int j = 0; j < L.nnei; ++j) {
        pair_vector(q, net_deriv, in_deriv, k * L.nnei + j, L.ncomp);
        for (int d = 0; d < 3; ++d) f[d] -= q[d];
      }
    }
    for (int m = pairs.start[k]; m < pairs.start[k + 1]; ++m) {
      pair_vector(q, net_deriv, in_deriv, pairs.list[m], L.ncomp);
      for (int d = 0; d < 3; ++d) f[d] += q[d];
    }
    for (int d = 0; d < 3; ++d) force[3 * k + d] = f[d];
  }, exec, 24L * L.nnei * L.ncomp);
}

template <typename T>
void prod_virial(T* virial, T* atom_virial, const T* net_deriv, const T* in_deriv,
                 const T* rij, const int* nlist, const PairLayout& L, const Executor* exec) {
  check_nlist(nlist, L);
  const PairsByNeighbor pairs = group_pairs(nlist, L);
  parallel_for(L.nall, [&](long k) {
    T w[9] = {T(0)}, q[3];
    for (int m = pairs.start[k]; m < pairs.start[k + 1]; ++m) {
      const long p = pairs.list[m];
      pair_vector(q, net_deriv, in_deriv, p, L.ncomp);
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) w[3 * a + b] += q[a] * rij[3 * p + b];
    }
    std::copy(w, w + 9, atom_virial + 9 * k);
  }, exec, 24L * L.nnei * L.ncomp);
  // total: per-centre partial sums, then a serial sum in centre order
  std::vector<T> partial(static_cast<size_t>(L.nloc) * 9, T(0));
  parallel_for(L.nloc, [&](long i) {
    T* w = partial.data() + 9 * i;
    T q[3];
    for (int j = 0; j < L.nnei; ++j) {
      const long p = i * L.nnei + j;
      if (nlist[p] < 0) continue;
      pair_vector(q, net_deriv, in_deriv, p, L.ncomp);
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) w[3 * a + b] += q[a] * rij[3 * p + b];
    }
  }, exec, 24L * L.nnei * L.ncomp);
  std::fill(virial, virial + 9, T(0));
  for (int i = 0; i < L.nloc; ++i)
    for (int a = 0; a < 9; ++a) virial[a] += partial[9 * static_cast<size_t>(i) + a];
}

template <typename T>
void prod_force_grad(T* grad_net, const T* grad_force, const T* in_deriv, const int* nlist,
                     const PairLayout& L, int ngrad, const Executor* exec) {
  check_nlist(nlist, L);
  if (ngrad != L.nall && ngrad != L.nloc) {
    std::ostringstream msg;
    msg << "force gradient covers " << ngrad << " atoms; expected nloc = " << L.nloc
        << " or nall = " << L.nall;
    throw InputError(msg.str());
  }
  parallel_for(L.nloc, [&](long i) {
    const T* gi = grad_force + 3 * i;
    for (int j = 0; j < L.nnei; ++j) {
      const long p = i * L.nnei + j;
      int k = nlist[p];
      if (k >= ngrad) k %= L.nloc;
      for (int c = 0; c < L.ncomp; ++c) {
        const T* e = in_deriv + (p * L.ncomp + c) * 3;
        T v = -(gi[0] * e[0] + gi[1] * e[1] + gi[2] * e[2]);
        if (k >= 0) {
          const T* gk = grad_force + 3 * static_cast<long>(k);
          v += gk[0] * e[0] + gk[1] * e[1] + gk[2] * e[2];
        }
        grad_net[p * L.ncomp + c] = v;
      }
    }
  }, exec, 24L * L.nnei * L.ncomp);
}

template <typename T>
void prod_virial_grad(T* grad_net, const T* grad_virial, const T* in_deriv, const T* rij,
                      const int* nlist, const PairLayout& L, const Executor* exec) {
  check_nlist(nlist, L);
  parallel_for(L.nloc, [&](long i) {
    for (int j = 0; j < L.nnei; ++j) {
      const long p = i * L.nnei + j;
      const T* x = rij + 3 * p;
      // u_a = sum_b G_ab x_b, then grad = e . u
      T u[3];
      for (int a = 0; a < 3; ++a)
        u[a] = grad_virial[3 * a] * x[0] + grad_virial[3 * a + 1] * x[1] + grad_virial[3 * a + 2] * x[2];
      for (int c = 0; c < L.ncomp; ++c) {
        const T* e = in_deriv + (p * L.ncomp + c) * 3;
        grad_net[p * L.ncomp + c] =
            nlist[p] < 0 ? T(0) : e[0] * u[0] + e[1] * u[1] + e[2] * u[2];
      }
    }
  }, exec, 24L * L.nnei * L.ncomp);
}

#define DEEPMT_INSTANTIATE(T)                                                              \
  template void prod_force<T>(T*, const T*, const T*, const int*, const PairLayout&,       \
                              const Executor*);                                           \
  template void prod_virial<T>(T*, T*, const T*, const T*, const T*, const int*,           \
                               const PairLayout&, const Executor*);                       \
  template void prod_force_grad<T>(T*, const T*, const T*, const int*, const PairLayout&, \
                                   int, const Executor*);                                 \
  template void prod_virial_grad<T>(T*, const T*, const T*, const T*, const int*,         \
                                    const PairLayout&, const Executor*);
DEEPMT_INSTANTIATE(float)
DEEPMT_INSTANTIATE(double)
#undef DEEPMT_INSTANTIATE

}  // namespace deepmt

// Environment matrix of one frame (see deepmt/env_mat.h).
#include "deepmt/env_mat.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "deepmt/cell.h"
#include "deepmt/errors.h"
#include "deepmt/neighbor_list.h"
#include "deepmt/parallel.h"
#include "deepmt/switch.h"

namespace deepmt {

int EnvMatParams::nnei() const {
  int n = 0;
  for (int s : sel) n += s;
  return n;
}

std::vector<int> EnvMatParams::block_start() const {
  std::vector<int> start(sel.size() + 1, 0);
  for (size_t t = 0; t < sel.size(); ++t) start[t + 1] = start[t] + sel[t];
  return start;
}

void EnvMatParams::validate() const {
  std::ostringstream msg;
  if (!(rcut > 0.f)) {
    msg << "rcut must be > 0, got " << rcut;
  } else if (!(rcut_smth <= rcut)) {
    msg << "rcut_smth must be <= rcut, got rcut_smth = " << rcut_smth << " > rcut = " << rcut;
  } else if (sel.empty()) {
    msg << "sel must have one entry per atom type, got an empty list";
  } else {
    for (size_t t = 0; t < sel.size(); ++t) {
      if (sel[t] < 0) {
        msg << "sel[" << t << "] must be >= 0, got " << sel[t];
        break;
      }
    }
  }
  if (!msg.str().empty()) throw InputError(msg.str());
}

template <typename T>
void select_neighbors(int* slots, int* counts, std::vector<NeighborKey>& keys,
                      const T* coord, const int* type, int i, const int* cand,
                      int ncand, const EnvMatParams& params,
                      const std::vector<int>& block_start) {
  const int ntypes = params.ntypes();
  const float rc2 = params.rcut * params.rcut;
  const float xi[3] = {float(coord[3 * i]), float(coord[3 * i + 1]), float(coord[3 * i + 2])};
  keys.clear();
  for (int k = 0; k < ncand; ++k) {
    const int j = cand[k];
    if (type[j] < 0) continue;
    // the ordering distance is float32 even for double data (as DeePMD-kit)
    const float d0 = float(coord[3 * j]) - xi[0];
    const float d1 = float(coord[3 * j + 1]) - xi[1];
    const float d2 = float(coord[3 * j + 2]) - xi[2];
    const float r2 = d0 * d0 + d1 * d1 + d2 * d2;
    if (r2 <= rc2) keys.push_back(NeighborKey{type[j], r2, j});
  }
  std::sort(keys.begin(), keys.end());
  std::fill(slots, slots + block_start[ntypes], -1);
  std::fill(counts, counts + ntypes, 0);
  for (const NeighborKey& key : keys) {
    const int t = key.type;
    if (counts[t] < params.sel[t]) slots[block_start[t] + counts[t]] = key.index;
    ++counts[t];
  }
}

template <typename T>
void env_row_a(T* row, T* deriv, const T* rij, T rs, T rc) {
  const T x[3] = {rij[0], rij[1], rij[2]};
  const T r2 = x[0] * x[0] + x[1] * x[1] + x[2] * x[2];
  const T r = std::sqrt(r2);
  const T inv_r = T(1) / r;
  const T inv_r2 = inv_r * inv_r;
  T w, dw;
  smooth_switch(w, dw, r, rs, rc);
  row[0] = w * inv_r;
  // d(w/r)/dr_i = x (w/r^3 - w'/r^2)   (derivative w.r.t. the centre)
  const T radial = (w * inv_r - dw) * inv_r2;
  for (int d = 0; d < 3; ++d) deriv[d] = x[d] * radial;
  // d(w x_c/r^2)/dr_i = w (2 x_c x_d/r^4 - delta_cd/r^2) - w' x_c x_d/r^3
  const T pair = (T(2) * w * inv_r2 - dw * inv_r) * inv_r2;
  for (int c = 0; c < 3; ++c) {
    row[1 + c] = w * x[c] * inv_r2;
    for (int d = 0; d < 3; ++d) {
      deriv[3 * (1 + c) + d] = pair * x[c] * x[d] - (c == d ? w * inv_r2 : T(0));
    }
  }
}

template <typename T>
void env_row_r(T* row, T* deriv, const T* rij, T rs, T rc) {
  const T r2 = rij[0] * rij[0] + rij[1] * rij[1] + rij[2] * rij[2];
  const T r = std::sqrt(r2);
  const T inv_r = T(1) / r;
  T w, dw;
  smooth_switch(w, dw, r, rs, rc);
  row[0] = w * inv_r;
  const T radial = (w * inv_r - dw) * inv_r * inv_r;
  for (int d = 0; d < 3; ++d) deriv[d] = rij[d] * radial;
}

void unpack_serialized_nlist(SerializedNeighbors& out, const int* mesh, long length,
                             int nloc) {
  std::ostringstream msg;
  const long header = 16 + 2L * nloc;
  if (length < header) {
    msg << "serialized neighbour list (mesh) has " << length << " ints, fewer than the "
        << header << " of its header for nloc = " << nloc;
    throw InputError(msg.str());
  }
  if (mesh[0] != nloc) {
    msg << "serialized neighbour list (mesh) starts with " << mesh[0] << " but nloc is "
        << nloc;
    throw InputError(msg.str());
  }
  const int* ilist = mesh + 16;
  const int* numneigh = ilist + nloc;
  const int* next = numneigh + nloc;
  out.first.resize(nloc);
  long used = header;
  for (int k = 0; k < nloc; ++k) {
    if (numneigh[k] < 0 || used + numneigh[k] > length) {
      msg << "serialized neighbour list (mesh): numneigh[" << k << "] = " << numneigh[k]
          << " is negative or runs past the end of the tensor";
      throw InputError(msg.str());
    }
    out.first[k] = next;
    next += numneigh[k];
    used += numneigh[k];
  }
  out.view.inum = nloc;
  out.view.ilist = ilist;
  out.view.numneigh = numneigh;
  out.view.firstneigh = out.first.data();
}

#define DEEPMT_INSTANTIATE(T)                                                           \
  template void select_neighbors<T>(int*, int*, std::vector<NeighborKey>&, const T*,    \
                                    const int*, int, const int*, int,                   \
                                    const EnvMatParams&, const std::vector<int>&);      \
  template void env_row_a<T>(T*, T*, const T*, T, T);                                   \
  template void env_row_r<T>(T*, T*, const T*, T, T);
DEEPMT_INSTANTIATE(float)
DEEPMT_INSTANTIATE(double)
#undef DEEPMT_INSTANTIATE

}  // namespace deepmt

// One frame of the environment-matrix operator: input checks, neighbour
// search in the three modes, per-centre rows and normalization.
#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "deepmt/cell.h"
#include "deepmt/env_mat.h"
#include "deepmt/errors.h"
#include "deepmt/neighbor_list.h"
#include "deepmt/parallel.h"

namespace deepmt {

namespace {

template <typename T>
void check_atoms(const EnvMatFrameInput<T>& in, int ntypes) {
  for (int i = 0; i < in.nall; ++i) {
    if (in.type[i] >= ntypes) {
      std::ostringstream msg;
      msg << "type of atom " << i << " is " << in.type[i] << " but the operator has only "
          << ntypes << " types (len(sel)); valid types are 0.." << ntypes - 1
          << " (negative = virtual atom)";
      throw InputError(msg.str());
    }
    for (int d = 0; d < 3; ++d) {
      if (!std::isfinite(static_cast<double>(in.coord[3 * i + d]))) {
        std::ostringstream msg;
        msg << "coord of atom " << i << " is not finite";
        throw InputError(msg.str());
      }
    }
  }
}

// Checks an external list and returns, per centre, its neighbour range.
void index_external(std::vector<const int*>& first, std::vector<int>& count,
                    const ExternalNeighbors& ext, int nloc, int nall) {
  std::ostringstream msg;
  if (ext.inum < 0 || ext.inum > nloc || (ext.inum > 0 && (!ext.ilist || !ext.numneigh || !ext.firstneigh))) {
    msg << "external neighbour list is invalid (inum = " << ext.inum << ", nloc = " << nloc
        << ")";
    throw InputError(msg.str());
  }
  first.assign(nloc, nullptr);
  count.assign(nloc, 0);
  for (int k = 0; k < ext.inum; ++k) {
    const int i = ext.ilist[k];
    if (i < 0 || i >= nloc || first[i] != nullptr) {
      msg << "external neighbour list: ilist[" << k << "] = " << i
          << " is out of [0, nloc = " << nloc << ") or repeated";
      throw InputError(msg.str());
    }
    const int* nei = ext.firstneigh[k];
    if (ext.numneigh[k] > 0 && nei == nullptr) throw InputError("external neighbour list: null neighbour pointer");
    for (int m = 0; m < ext.numneigh[k]; ++m) {
      if (nei[m] < 0 || nei[m] >= nall || nei[m] == i) {
        msg << "external neighbour list: neighbour " << nei[m] << " of atom " << i
            << " is out of [0, nall = " << nall << ") or the atom itself";
        throw InputError(msg.str());
      }
    }
    first[i] = nei;
    count[i] = std::max(ext.numneigh[k], 0);
  }
}

// The atoms searched as neighbours and where each centre finds candidates.
template <typename T>
struct SearchSpace {
  const T* coord = nullptr;        // searched atoms, n x 3
  const int* type = nullptr;
  const int* mapping = nullptr;    // searched index -> reported index, or null
  ExtendedAtoms<T> images;         // storage in periodic mode
  std::unique_ptr<CellList<T>> cells;
  std::vector<const int*> ext_first;  // external mode
  std::vector<int> ext_count;
};

template <typename T>
void prepare_search(SearchSpace<T>& s, const EnvMatFrameInput<T>& in, float rcut) {
  if (in.mode == NeighborMode::kExternal) {
    if (!in.external) throw InputError("external neighbour list is missing");
    index_external(s.ext_first, s.ext_count, *in.external, in.nloc, in.nall);
    s.coord = in.coord;
    s.type = in.type;
    return;
  }
  if (in.mode == NeighborMode::kPeriodic) {
    if (in.nall != in.nloc) {
      std::ostringstream msg;
      msg << "periodic mode (mesh of length 6) needs nall == nloc, got nloc = " << in.nloc
          << ", nall = " << in.nall << "; pass ghost atoms with an external neighbour list";
      throw InputError(msg.str());
    }
    if (!in.box) throw InputError("periodic mode needs a box");
    const CellGeometry cell = cell_from_box(in.box);
    std::vector<T> wrapped(in.coord, in.coord + 3 * in.nloc);
    wrap_into_cell(wrapped.data(), in.nloc, cell);
    build_periodic_images(s.images, wrapped.data(), in.type, in.nloc, cell, rcut);
    s.coord = s.images.coord.data();
    s.type = s.images.type.data();
    s.mapping = s.images.mapping.data();
    s.cells.reset(new CellList<T>(s.coord, s.images.nall(), rcut));
    return;
  }
  s.coord = in.coord;
  s.type = in.type;
  s.cells.reset(new CellList<T>(in.coord, in.nall, rcut));
}

// Rows, derivatives, rij and nlist of centre i.
template <typename T>
void compute_centre(int i, const EnvMatParams& p, const std::vector<int>& start,
                    const SearchSpace<T>& s, const EnvMatFrameInput<T>& in,
                    const EnvMatFrameOutput<T>& out, int* counts) {
  thread_local std::vector<int> cand, slots;
  thread_local std::vector<NeighborKey> keys;
  const int nnei = p.nnei(), ncomp = p.ncomp(), ndesc = p.ndesc();
  const T* xi = s.coord + 3 * i;
  if (in.mode == NeighborMode::kExternal) {
    cand.assign(s.ext_first[i], s.ext_first[i] + s.ext_count[i]);
  } else {
    const T rc2 = static_cast<T>(p.rcut * p.rcut);
    cand.clear();
    s.cells->visit_near(xi, [&](int j) {
      if (j != i && within_cutoff(xi, s.coord + 3 * j, rc2)) cand.push_back(j);
    });
  }
  slots.resize(nnei);
  select_neighbors(slots.data(), counts, keys, s.coord, s.type, i, cand.data(),
                   static_cast<int>(cand.size()), p, start);
  const int ti = in.type[i];
  T* em = out.descrpt + static_cast<long>(i) * ndesc;
  T* dem = out.descrpt_deriv + static_cast<long>(i) * ndesc * 3;
  T* rij = out.rij + static_cast<long>(i) * nnei * 3;
  int* nlist = out.nlist + static_cast<long>(i) * nnei;
  const T rs = static_cast<T>(p.rcut_smth), rc = static_cast<T>(p.rcut);
  for (int k = 0; k < nnei; ++k) {
    const int j = slots[k];
    T* row = em + k * ncomp;
    T* drow = dem + k * ncomp * 3;
    std::fill(row, row + ncomp, T(0));
    std::fill(drow, drow + ncomp * 3, T(0));
    if (j < 0) {
      std::fill(rij + 3 * k, rij + 3 * k + 3, T(0));
      nlist[k] = -1;
      continue;
    }
    for (int d = 0; d < 3; ++d) rij[3 * k + d] = s.coord[3 * j + d] - xi[d];
    nlist[k] = s.mapping ? s.mapping[j] : j;
    if (p.radial) {
      env_row_r(row, drow, rij + 3 * k, rs, rc);
    } else {
      env_row_a(row, drow, rij + 3 * k, rs, rc);
    }
  }
  if (ti < 0) {  // virtual centre: no environment, not counted
    std::fill(em, em + ndesc, T(0));
    std::fill(dem, dem + ndesc * 3, T(0));
    std::fill(counts, counts + p.ntypes(), 0);
    return;
  }
  const T* avg = in.davg + static_cast<long>(ti) * ndesc;
  const T* std_ = in.dstd + static_cast<long>(ti) * ndesc;
  for (int a = 0; a < ndesc; ++a) {
    em[a] = (em[a] - avg[a]) / std_[a];
    for (int d = 0; d < 3; ++d) dem[3 * a + d] /= std_[a];
  }
}

}  // namespace

template <typename T>
void env_mat_frame(const EnvMatParams& p, const EnvMatFrameInput<T>& in,
                   const EnvMatFrameOutput<T>& out, const Executor* exec) {
  p.validate();
  const int ntypes = p.ntypes();
  if (in.nloc < 0 || in.nall < in.nloc) {
    std::ostringstream msg;
    msg << "natoms must satisfy 0 <= nloc <= nall, got nloc = " << in.nloc
        << ", nall = " << in.nall;
    throw InputError(msg.str());
  }
  check_atoms(in, ntypes);
  SearchSpace<T> space;
  prepare_search(space, in, p.rcut);
  const std::vector<int> start = p.block_start();
  std::vector<int> counts(static_cast<size_t>(in.nloc) * ntypes, 0);
  parallel_for(in.nloc, [&](long i) {
    compute_centre(static_cast<int>(i), p, start, space, in, out, counts.data() + i * ntypes);
  }, exec, 200L * p.nnei() + 20000L);
  std::fill(out.max_nnei, out.max_nnei + ntypes, 0);
  for (int i = 0; i < in.nloc; ++i) {
    for (int t = 0; t < ntypes; ++t)
      out.max_nnei[t] = std::max(out.max_nnei[t], counts[static_cast<size_t>(i) * ntypes + t]);
  }
}

template void env_mat_frame<float>(const EnvMatParams&, const EnvMatFrameInput<float>&,
                                   const EnvMatFrameOutput<float>&, const Executor*);
template void env_mat_frame<double>(const EnvMatParams&, const EnvMatFrameInput<double>&,
                                    const EnvMatFrameOutput<double>&, const Executor*);

}  // namespace deepmt

// Neighbour search: periodic images, a cell list, and brute force.
//
// Vocabulary: nloc local atoms are the centres; nall >= nloc atoms are
// searched as neighbours (local atoms first, then ghosts or images).
// Coordinates are flat arrays of nall x 3 (Angstrom).
//
// Candidate rule (identical to DeePMD-kit 2.2.11's neighbour builder):
// j != i and |r_i - r_j|^2 < rc^2, the squared distance computed in the
// data precision T and rc^2 computed in float32.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "deepmt/cell.h"

namespace deepmt {

// Local atoms followed by periodic images (ghosts) of them.
template <typename T>
struct ExtendedAtoms {
  std::vector<T> coord;      // nall x 3
  std::vector<int> type;     // nall
  std::vector<int> mapping;  // nall: local atom each entry is a copy of
  int nall() const { return static_cast<int>(type.size()); }
};

// Largest extended system build_periodic_images accepts (memory guard for
// cells much smaller than the cut-off).
constexpr long kMaxExtendedAtoms = 50000000L;

// Moves every atom into the cell (fractional coordinates modulo 1, in [0, 1)
// up to rounding), computed in the data precision T as DeePMD-kit does.
template <typename T>
void wrap_into_cell(T* coord, int natoms, const CellGeometry& cell);

// Copies nloc (already wrapped) atoms and adds every periodic image that can
// lie within rcut of the cell, in DeePMD-kit's order: the cell is cut into
// n_d = max(1, floor(face_d / rcut)) bins per direction, g_d = floor(rcut /
// bin_d) + 1 ghost bins are added on each side, and ghost bins are visited
// x-major, each contributing the atoms of the bin it images in increasing
// index order. Works for cells thinner than rcut (several images of one
// atom). Throws InputError when more than kMaxExtendedAtoms would be made.
template <typename T>
void build_periodic_images(ExtendedAtoms<T>& out, const T* coord,
                           const int* type, int nloc,
                           const CellGeometry& cell, float rcut);

// The candidate rule in the data precision T; rc2 = (float)rcut * rcut.
template <typename T>
inline bool within_cutoff(const T* xi, const T* xj, const T rc2) {
  const T d0 = xi[0] - xj[0];
  const T d1 = xi[1] - xj[1];
  const T d2 = xi[2] - xj[2];
  return d0 * d0 + d1 * d1 + d2 * d2 < rc2;
}

// Axis-aligned bins at least rcut wide over the bounding box of a point set:
// every point within rcut of a query lies in the 27 bins around it.
template <typename T>
class CellList {
 public:
  CellList(const T* coord, int natoms, double rcut);

  // Calls visit(j) for each atom j in the bins around point x (a superset of
  // the atoms within rcut of x); x must lie in the bounding box.
  template <typename Visit>
  void visit_near(const T* x, Visit&& visit) const {
    int b[3];
    bin_of(x, b);
    const int lo0 = std::max(b[0] - 1, 0), hi0 = std::min(b[0] + 1, nbin_[0] - 1);
    const int lo1 = std::max(b[1] - 1, 0), hi1 = std::min(b[1] + 1, nbin_[1] - 1);
    const int lo2 = std::max(b[2] - 1, 0), hi2 = std::min(b[2] + 1, nbin_[2] - 1);
    for (int i0 = lo0; i0 <= hi0; ++i0) {
      for (int i1 = lo1; i1 <= hi1; ++i1) {
        const int row = (i0 * nbin_[1] + i1) * nbin_[2];
        const int first = start_[row + lo2], last = start_[row + hi2 + 1];
        for (int k = first; k < last; ++k) visit(atoms_[k]);
      }
    }
  }

  int nbins() const { return nbin_[0] * nbin_[1] * nbin_[2]; }

 private:
  void bin_of(const T* x, int* b) const {
    for (int d = 0; d < 3; ++d) {
      const double s = (static_cast<double>(x[d]) - origin_[d]) / width_[d];
      int k = s > 0.0 ? static_cast<int>(std::min(s, 1e9)) : 0;
      b[d] = std::min(k, nbin_[d] - 1);
    }
  }

  double origin_[3];
  double width_[3];
  int nbin_[3];
  std::vector<int> start_;  // nbins + 1 offsets into atoms_
  std::vector<int> atoms_;  // atom indices grouped by bin, increasing
};

// Candidate neighbours of each of the first nloc atoms among all nall atoms,
// found with a cell list (O(N)); each list sorted by index.
template <typename T>
std::vector<std::vector<int>> neighbor_candidates_cells(const T* coord, int nloc,
                                                        int nall, float rcut);

// The same by brute force over all pairs (O(N^2)); for tests.
template <typename T>
std::vector<std::vector<int>> neighbor_candidates_brute(const T* coord, int nloc,
                                                        int nall, float rcut);

}  // namespace deepmt

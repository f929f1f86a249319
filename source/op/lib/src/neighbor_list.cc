// Periodic images, cell list and brute-force neighbour candidates
// (see deepmt/neighbor_list.h).
#include "deepmt/neighbor_list.h"

#include <sstream>

#include "deepmt/errors.h"
#include "deepmt/parallel.h"

namespace deepmt {

namespace {

// h^-1 in the data precision T, stored so that f_d = sum_k r_k inv[3d + k]:
// rows of inv are (b x c, c x a, a x b) / det. The adjugate times 1/|det|
// and the summation order follow DeePMD-kit 2.2.11, so that wrapped float32
// coordinates (hence float32 distance ties between images) come out alike;
// for a left-handed cell the sign of det is kept (a true inverse).
template <typename T>
void reciprocal_cell(T* inv, const T* h) {
  const T det = h[0] * (h[4] * h[8] - h[7] * h[5]) - h[1] * (h[3] * h[8] - h[6] * h[5]) +
                h[2] * (h[3] * h[7] - h[6] * h[4]);
  const T s = det > T(0) ? T(1) / std::abs(det) : T(1) / det;
  inv[0] = (h[4] * h[8] - h[7] * h[5]) * s;
  inv[1] = (-h[3] * h[8] + h[6] * h[5]) * s;
  inv[2] = (h[3] * h[7] - h[6] * h[4]) * s;
  inv[3] = (-h[1] * h[8] + h[7] * h[2]) * s;
  inv[4] = (h[0] * h[8] - h[6] * h[2]) * s;
  inv[5] = (-h[0] * h[7] + h[6] * h[1]) * s;
  inv[6] = (h[1] * h[5] - h[4] * h[2]) * s;
  inv[7] = (-h[0] * h[5] + h[3] * h[2]) * s;
  inv[8] = (h[0] * h[4] - h[3] * h[1]) * s;
}

}  // namespace

template <typename T>
void wrap_into_cell(T* coord, int natoms, const CellGeometry& cell) {
  T h[9], inv[9];
  for (int k = 0; k < 9; ++k) h[k] = static_cast<T>(cell.h[k]);
  reciprocal_cell(inv, h);
  for (int i = 0; i < natoms; ++i) {
    T* r = coord + 3 * i;
    T f[3];
    for (int d = 0; d < 3; ++d) {
      f[d] = r[0] * inv[3 * d] + r[1] * inv[3 * d + 1] + r[2] * inv[3 * d + 2];
      f[d] = std::fmod(f[d], T(1));
      if (f[d] < T(0)) f[d] += T(1);
    }
    for (int d = 0; d < 3; ++d) r[d] = f[0] * h[d] + f[1] * h[3 + d] + f[2] * h[6 + d];
  }
}

namespace {

// Bin layout of build_periodic_images.
struct ImageGrid {
  int ncell[3];   // bins inside the cell
  int nghost[3];  // ghost bins added on each side
};

ImageGrid image_grid(const CellGeometry& cell, float rcut) {
  ImageGrid g;
  for (int d = 0; d < 3; ++d) {
    const double n = cell.face[d] / rcut;
    g.ncell[d] = n < 1.0 ? 1 : static_cast<int>(std::min(n, 1e6));
    const double width = cell.face[d] / g.ncell[d];
    const double ng = rcut / width;
    if (ng > 1e6) throw InputError("periodic box is far thinner than rcut");
    g.nghost[d] = static_cast<int>(ng) + 1;
  }
  return g;
}

// Bin index (inside the cell) of a wrapped position, clamped to the cell.
int local_bin(const CellGeometry& cell, const ImageGrid& g, const double* r) {
  double f[3];
  cell.to_frac(f, r);
  int idx[3];
  for (int d = 0; d < 3; ++d) {
    const double s = f[d] * g.ncell[d];
    int k = s < 0.0 ? -1 : static_cast<int>(std::min(s, 1e9));
    idx[d] = std::min(std::max(k, 0), g.ncell[d] - 1);
  }
  return (idx[0] * g.ncell[1] + idx[1]) * g.ncell[2] + idx[2];
}

// Euclidean division: the bin inside the cell that ghost bin i images.
int wrap_index(int i, int n) { return ((i % n) + n) % n; }

}  // namespace

template <typename T>
void build_periodic_images(ExtendedAtoms<T>& out, const T* coord,
                           const int* type, int nloc,
                           const CellGeometry& cell, float rcut) {
  const ImageGrid g = image_grid(cell, rcut);
  long total = 1, inner = 1;
  for (int d = 0; d < 3; ++d) {
    total *= 2L * g.nghost[d] + g.ncell[d];
    inner *= g.ncell[d];
  }
  if (static_cast<double>(total) / inner * nloc > kMaxExtendedAtoms) {
    std::ostringstream msg;
    msg << "periodic box is too small for rcut = " << rcut << ": about "
        << total / inner * nloc << " periodic images would be needed";
    throw InputError(msg.str());
  }
  std::vector<std::vector<int>> bins(inner);
  for (int i = 0; i < nloc; ++i) {
    double r[3] = {double(coord[3 * i]), double(coord[3 * i + 1]), double(coord[3 * i + 2])};
    bins[local_bin(cell, g, r)].push_back(i);
  }
  out.coord.assign(coord, coord + 3 * nloc);
  out.type.assign(type, type + nloc);
  out.mapping.resize(nloc);
  for (int i = 0; i < nloc; ++i) out.mapping[i] = i;
  int b[3];
  for (b[0] = -g.nghost[0]; b[0] < g.ncell[0] + g.nghost[0]; ++b[0]) {
    for (b[1] = -g.nghost[1]; b[1] < g.ncell[1] + g.nghost[1]; ++b[1]) {
      for (b[2] = -g.nghost[2]; b[2] < g.ncell[2] + g.nghost[2]; ++b[2]) {
        int src[3];
        double lattice[3];
        bool inside = true;
        for (int d = 0; d < 3; ++d) {
          src[d] = wrap_index(b[d], g.ncell[d]);
          lattice[d] = static_cast<double>((b[d] - src[d]) / g.ncell[d]);
          inside = inside && b[d] == src[d];
        }
        if (inside) continue;
        double shift[3];
        cell.to_cart(shift, lattice);
        const int bin = (src[0] * g.ncell[1] + src[1]) * g.ncell[2] + src[2];
        for (int i : bins[bin]) {
          for (int d = 0; d < 3; ++d)
            out.coord.push_back(static_cast<T>(double(coord[3 * i + d]) + shift[d]));
          out.type.push_back(type[i]);
          out.mapping.push_back(i);
        }
      }
    }
  }
}

template <typename T>
CellList<T>::CellList(const T* coord, int natoms, double rcut) {
  double lo[3] = {0.0, 0.0, 0.0}, hi[3] = {0.0, 0.0, 0.0};
  for (int i = 0; i < natoms; ++i) {
    for (int d = 0; d < 3; ++d) {
      const double x = coord[3 * i + d];
      if (i == 0 || x < lo[d]) lo[d] = x;
      if (i == 0 || x > hi[d]) hi[d] = x;
    }
  }
  // bins a little wider than rcut so rounding never hides a neighbour
  const double min_width = rcut * (1.0 + 1e-6) + 1e-12;
  long nb[3];
  for (int d = 0; d < 3; ++d) {
    const double n = (hi[d] - lo[d]) / min_width;
    nb[d] = n < 1.0 ? 1 : static_cast<long>(std::min(n, 1e6));
  }
  // sparse point sets: merge bins so their number stays O(natoms)
  const long cap = 4L * natoms + 64;
  while (nb[0] * nb[1] * nb[2] > cap) {
    const int d = nb[0] >= nb[1] && nb[0] >= nb[2] ? 0 : (nb[1] >= nb[2] ? 1 : 2);
    nb[d] = (nb[d] + 1) / 2;
  }
  for (int d = 0; d < 3; ++d) {
    nbin_[d] = static_cast<int>(nb[d]);
    origin_[d] = lo[d];
    width_[d] = nbin_[d] > 1 ? (hi[d] - lo[d]) / nbin_[d] : std::max(hi[d] - lo[d], min_width) * 2.0;
  }
  // counting sort of the atoms by bin keeps increasing order inside a bin
  std::vector<int> bin(natoms);
  start_.assign(nbins() + 1, 0);
  for (int i = 0; i < natoms; ++i) {
    int b[3];
    bin_of(coord + 3 * i, b);
    bin[i] = (b[0] * nbin_[1] + b[1]) * nbin_[2] + b[2];
    ++start_[bin[i] + 1];
  }
  for (int k = 0; k < nbins(); ++k) start_[k + 1] += start_[k];
  atoms_.resize(natoms);
  std::vector<int> fill(start_.begin(), start_.end() - 1);
  for (int i = 0; i < natoms; ++i) atoms_[fill[bin[i]]++] = i;
}

template <typename T>
std::vector<std::vector<int>> neighbor_candidates_cells(const T* coord, int nloc,
                                                        int nall, float rcut) {
  const CellList<T> cells(coord, nall, rcut);
  const T rc2 = static_cast<T>(rcut * rcut);
  std::vector<std::vector<int>> out(nloc);
  parallel_for(nloc, [&](long i) {
    const T* xi = coord + 3 * i;
    cells.visit_near(xi, [&](int j) {
      if (j != i && within_cutoff(xi, coord + 3 * j, rc2)) out[i].push_back(j);
    });
    std::sort(out[i].begin(), out[i].end());
  });
  return out;
}

template <typename T>
std::vector<std::vector<int>> neighbor_candidates_brute(const T* coord, int nloc,
                                                        int nall, float rcut) {
  const T rc2 = static_cast<T>(rcut * rcut);
  std::vector<std::vector<int>> out(nloc);
  for (int i = 0; i < nloc; ++i) {
    for (int j = 0; j < nall; ++j) {
      if (j != i && within_cutoff(coord + 3 * i, coord + 3 * j, rc2)) out[i].push_back(j);
    }
  }
  return out;
}

#define DEEPMT_INSTANTIATE(T)                                                         \
  template void wrap_into_cell<T>(T*, int, const CellGeometry&);                      \
  template void build_periodic_images<T>(ExtendedAtoms<T>&, const T*, const int*, int, \
                                         const CellGeometry&, float);                 \
  template class CellList<T>;                                                         \
  template std::vector<std::vector<int>> neighbor_candidates_cells<T>(const T*, int,  \
                                                                      int, float);    \
  template std::vector<std::vector<int>> neighbor_candidates_brute<T>(const T*, int,  \
                                                                      int, float);
DEEPMT_INSTANTIATE(float)
DEEPMT_INSTANTIATE(double)
#undef DEEPMT_INSTANTIATE

}  // namespace deepmt

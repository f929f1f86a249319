// Cell geometry (see deepmt/cell.h) and the thread-count helpers.
#include "deepmt/cell.h"

#include <cmath>
#include <sstream>

#include "deepmt/errors.h"
#include "deepmt/parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace deepmt {

namespace {

void cross(double* out, const double* u, const double* v) {
  out[0] = u[1] * v[2] - u[2] * v[1];
  out[1] = u[2] * v[0] - u[0] * v[2];
  out[2] = u[0] * v[1] - u[1] * v[0];
}

double norm3(const double* v) { return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]); }

}  // namespace

CellGeometry CellGeometry::from_box(const double* box) {
  CellGeometry g;
  for (int k = 0; k < 9; ++k) {
    if (!std::isfinite(box[k])) throw InputError("box contains a non-finite number");
    g.h[k] = box[k];
  }
  const double* a = g.h;
  const double* b = g.h + 3;
  const double* c = g.h + 6;
  double bc[3], ca[3], ab[3];
  cross(bc, b, c);
  cross(ca, c, a);
  cross(ab, a, b);
  const double det = a[0] * bc[0] + a[1] * bc[1] + a[2] * bc[2];
  const double scale = norm3(a) * norm3(b) * norm3(c);
  if (!(std::fabs(det) > 1e-10 * scale) || scale == 0.0) {
    std::ostringstream msg;
    msg << "periodic box has zero volume (det = " << det
        << "); give three linearly independent cell vectors as rows, or use "
           "no periodic boundary (mesh of length 0)";
    throw InputError(msg.str());
  }
  g.volume = std::fabs(det);
  // inverse of h (rows a, b, c): columns are (b x c, c x a, a x b) / det
  for (int r = 0; r < 3; ++r) {
    g.inv[r * 3 + 0] = bc[r] / det;
    g.inv[r * 3 + 1] = ca[r] / det;
    g.inv[r * 3 + 2] = ab[r] / det;
  }
  g.face[0] = g.volume / norm3(bc);
  g.face[1] = g.volume / norm3(ca);
  g.face[2] = g.volume / norm3(ab);
  return g;
}

void CellGeometry::to_frac(double* f, const double* r) const {
  for (int d = 0; d < 3; ++d) f[d] = r[0] * inv[d] + r[1] * inv[3 + d] + r[2] * inv[6 + d];
}

void CellGeometry::to_cart(double* r, const double* f) const {
  for (int d = 0; d < 3; ++d) r[d] = f[0] * h[d] + f[1] * h[3 + d] + f[2] * h[6 + d];
}

CellGeometry cell_from_box(const double* box) { return CellGeometry::from_box(box); }

CellGeometry cell_from_box(const float* box) {
  double b[9];
  for (int k = 0; k < 9; ++k) b[k] = box[k];
  return CellGeometry::from_box(b);
}

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_num_threads(int n) {
#ifdef _OPENMP
  if (n > 0) omp_set_num_threads(n);
#else
  (void)n;
#endif
}

}  // namespace deepmt

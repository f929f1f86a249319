// Geometry of a periodic simulation cell (lengths in Angstrom).
//
// The cell is given as 9 numbers, rows are the cell vectors a, b, c.
// Positions are row vectors: fractional f = r h^-1, Cartesian r = f h.
// All geometry is computed in double, whatever the precision of the data.
#pragma once

namespace deepmt {

struct CellGeometry {
  double h[9];     // cell vectors as rows
  double inv[9];   // h^-1
  double volume;   // |det h|
  double face[3];  // distance between the two faces spanned by the other two vectors

  // Builds the geometry; throws InputError for a non-finite cell or one
  // whose volume is (numerically) zero.
  static CellGeometry from_box(const double* box);

  void to_frac(double* f, const double* r) const;
  void to_cart(double* r, const double* f) const;
};

// Same as CellGeometry::from_box for a single-precision cell.
CellGeometry cell_from_box(const float* box);
CellGeometry cell_from_box(const double* box);

}  // namespace deepmt

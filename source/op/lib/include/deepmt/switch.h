// The quintic switching function of the smooth environment matrix.
//
//   u = (r - rs) / (rc - rs)
//   w(r) = 1                                  r < rs
//        = u^3 (-6 u^2 + 15 u - 10) + 1       rs <= r < rc
//        = 0                                  r >= rc
//   dw/dr = -30 u^2 (1 - u)^2 / (rc - rs)     rs <= r < rc, else 0
//
// w is C2 at both ends. rs == rc is allowed (a hard step, no division).
#pragma once

namespace deepmt {

template <typename T>
inline void smooth_switch(T& w, T& dw, const T r, const T rs, const T rc) {
  if (r < rs) {
    w = T(1);
    dw = T(0);
  } else if (r < rc) {
    const T width = rc - rs;
    const T u = (r - rs) / width;
    const T u2 = u * u;
    const T one_minus_u = T(1) - u;
    w = u2 * u * (T(-6) * u2 + T(15) * u - T(10)) + T(1);
    dw = T(-30) * u2 * one_minus_u * one_minus_u / width;
  } else {
    w = T(0);
    dw = T(0);
  }
}

}  // namespace deepmt

// Smooth environment matrix of se_e2_a (4 numbers per neighbour slot) and
// se_e2_r (1 number per slot), with layout and neighbour order identical to
// DeePMD-kit 2.2.11's ProdEnvMatA / ProdEnvMatR.
//
// Shapes (flat, row-major): nnei = N = sum(sel), ncomp = 4 (A) or 1 (R),
// ndesc = N * ncomp.
//   descrpt        nloc x N x ncomp     (R - davg[t_i]) / dstd[t_i]
//   descrpt_deriv  nloc x N x ncomp x 3 dR/dr_i / dstd[t_i]  (centre atom!)
//   rij            nloc x N x 3         r_j - r_i of the image, 0 if empty
//   nlist          nloc x N             neighbour index or -1
// Raw rows (before normalization), with w the switching function:
//   A: (w/r, w x/r^2, w y/r^2, w z/r^2)      R: w/r
#pragma once

#include <vector>

#include "deepmt/parallel.h"

namespace deepmt {

// Attributes of one environment-matrix operator.
struct EnvMatParams {
  float rcut = 0.f;       // cut-off radius rc (Angstrom)
  float rcut_smth = 0.f;  // start of the switching region rs <= rc
  std::vector<int> sel;   // slots reserved per neighbour type
  bool radial = false;    // false: se_e2_a rows, true: se_e2_r rows

  int ntypes() const { return static_cast<int>(sel.size()); }
  int nnei() const;
  int ncomp() const { return radial ? 1 : 4; }
  int ndesc() const { return nnei() * ncomp(); }
  // ntypes + 1 offsets: type block t is slots [start[t], start[t+1]).
  std::vector<int> block_start() const;
  // Throws InputError for rcut <= 0, rcut_smth > rcut, negative sel.
  void validate() const;
};

// A candidate neighbour with DeePMD-kit's ordering key: (type, float32 r^2,
// index in the searched atom list).
struct NeighborKey {
  int type;
  float r2;
  int index;
};

inline bool operator<(const NeighborKey& a, const NeighborKey& b) {
  if (a.type != b.type) return a.type < b.type;
  if (a.r2 != b.r2) return a.r2 < b.r2;
  return a.index < b.index;
}

// Formats the candidates of centre i into type blocks, nearest first:
// keeps candidates j with type[j] >= 0 and float32 |r_j - r_i|^2 <= rc^2,
// sorts them by NeighborKey and fills slots[0..N) (-1 where empty); extra
// neighbours beyond sel[t] are dropped. counts[t] receives the number of
// type-t neighbours found before truncation.
template <typename T>
void select_neighbors(int* slots, int* counts, std::vector<NeighborKey>& keys,
                      const T* coord, const int* type, int i, const int* cand,
                      int ncand, const EnvMatParams& params,
                      const std::vector<int>& block_start);

// Raw se_e2_a row (4) and its derivative w.r.t. the centre (4 x 3) for the
// displacement rij = r_j - r_i.
template <typename T>
void env_row_a(T* row, T* deriv, const T* rij, T rs, T rc);

// Raw se_e2_r row (1) and its derivative w.r.t. the centre (3).
template <typename T>
void env_row_r(T* row, T* deriv, const T* rij, T rs, T rc);

enum class NeighborMode {
  kOpen,      // no periodicity; neighbours among the nall given atoms
  kPeriodic,  // wrap into the cell and build images (requires nall == nloc)
  kExternal,  // neighbour list supplied by the caller (LAMMPS style)
};

// An external neighbour list: for k < inum, centre ilist[k] has the
// numneigh[k] neighbours firstneigh[k][0..), indices into the nall atoms.
struct ExternalNeighbors {
  int inum = 0;
  const int* ilist = nullptr;
  const int* numneigh = nullptr;
  const int* const* firstneigh = nullptr;
};

// Owner of the pointers of an ExternalNeighbors unpacked from a serialized
// mesh [nloc, 0 x 15, ilist(nloc), numneigh(nloc), neighbours...].
struct SerializedNeighbors {
  std::vector<const int*> first;
  ExternalNeighbors view;
};

// Unpacks a serialized mesh of `length` ints; throws InputError when the
// header or the sizes are inconsistent with nloc.
void unpack_serialized_nlist(SerializedNeighbors& out, const int* mesh,
                             long length, int nloc);

template <typename T>
struct EnvMatFrameInput {
  const T* coord = nullptr;  // nall x 3
  const int* type = nullptr;  // nall, < 0 marks a virtual atom
  int nloc = 0;
  int nall = 0;
  NeighborMode mode = NeighborMode::kOpen;
  const T* box = nullptr;                         // 9, kPeriodic only
  const ExternalNeighbors* external = nullptr;    // kExternal only
  const T* davg = nullptr;                        // ntypes x ndesc
  const T* dstd = nullptr;                        // ntypes x ndesc
};

template <typename T>
struct EnvMatFrameOutput {
  T* descrpt = nullptr;        // nloc x ndesc
  T* descrpt_deriv = nullptr;  // nloc x ndesc x 3
  T* rij = nullptr;            // nloc x nnei x 3
  int* nlist = nullptr;        // nloc x nnei
  int* max_nnei = nullptr;     // ntypes: most type-t neighbours of a real centre
};

// Computes the environment matrix of one frame. In periodic mode nlist holds
// local indices (images mapped back), otherwise indices into the nall atoms.
// Centres of negative type get zero rows and derivatives (nlist and rij are
// still filled) and are not counted in max_nnei. Throws InputError for
// types >= ntypes, non-finite coordinates, a degenerate cell, or a bad
// external list. Centres run in parallel on `exec` (OpenMP if null).
template <typename T>
void env_mat_frame(const EnvMatParams& params, const EnvMatFrameInput<T>& in,
                   const EnvMatFrameOutput<T>& out, const Executor* exec = nullptr);

}  // namespace deepmt

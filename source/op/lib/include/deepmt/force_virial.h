// Force and virial assembly from the derivative of the energy with respect
// to the environment matrix, and the adjoints of both (for training on
// forces and virials). Semantics of DeePMD-kit 2.2.11's ProdForceSeA/R,
// ProdVirialSeA/R and their Grad ops.
//
// Per frame, with N slots per centre, ncomp numbers per slot (4 or 1):
//   net_deriv g  nloc x N x ncomp       dE/dR~
//   in_deriv  e  nloc x N x ncomp x 3   dR~/dr_i (w.r.t. the centre)
//   rij       x  nloc x N x 3
//   nlist     n  nloc x N               neighbour index in [0, nall) or < 0
// With q_ij = sum_c g_{i,jc} e_{i,jc,:} (a 3-vector):
//   F_k = -sum_j q_kj + sum_{(i,j): n(i,j)=k} q_ij
//   W_ab = sum_{filled (i,j)} q_ij,a x_ij,b,  W^atom_k = same over n(i,j)=k
// Each pair's whole virial goes to the neighbour k = n(i,j).
//
// Results do not depend on the number of threads: every output element is a
// sum in a fixed order. Atoms run in parallel on `exec` (OpenMP if null).
#pragma once

#include "deepmt/parallel.h"

namespace deepmt {

struct PairLayout {
  int nloc = 0;   // centres
  int nall = 0;   // atoms that can be neighbours (force rows)
  int nnei = 0;   // N, slots per centre
  int ncomp = 4;  // numbers per slot
};

// Throws InputError if an nlist entry is >= nall.
void check_nlist(const int* nlist, const PairLayout& layout);

// force: nall x 3 (overwritten).
template <typename T>
void prod_force(T* force, const T* net_deriv, const T* in_deriv,
                const int* nlist, const PairLayout& layout, const Executor* exec = nullptr);

// virial: 9 (a * 3 + b); atom_virial: nall x 9 (both overwritten).
template <typename T>
void prod_virial(T* virial, T* atom_virial, const T* net_deriv,
                 const T* in_deriv, const T* rij, const int* nlist,
                 const PairLayout& layout, const Executor* exec = nullptr);

// Adjoint of prod_force: grad_net (nloc x N x ncomp) from the gradient of
// the force, given for ngrad atoms. ngrad == nall is the exact adjoint; with
// ngrad == nloc < nall a neighbour index k is read at k mod nloc (as
// DeePMD-kit does).
template <typename T>
void prod_force_grad(T* grad_net, const T* grad_force, const T* in_deriv,
                     const int* nlist, const PairLayout& layout, int ngrad,
                     const Executor* exec = nullptr);

// Adjoint of the virial part of prod_virial (the atom virial has no
// gradient): grad_net_{i,jc} = sum_ab G_ab e_{i,jc,a} x_ij,b, filled slots.
template <typename T>
void prod_virial_grad(T* grad_net, const T* grad_virial, const T* in_deriv,
                      const T* rij, const int* nlist, const PairLayout& layout,
                      const Executor* exec = nullptr);

}  // namespace deepmt

// deepmt.lib._kernels: a pybind11 view of the TF-free kernel library, used
// by tests/op/test_kernels_lib.py to test the library without TensorFlow.
// deepmt::InputError surfaces as ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <vector>

#include "deepmt/cell.h"
#include "deepmt/env_mat.h"
#include "deepmt/force_virial.h"
#include "deepmt/neighbor_list.h"
#include "deepmt/parallel.h"
#include "deepmt/switch.h"

namespace py = pybind11;

namespace {

template <typename T>
using Array = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <typename T>
Array<T> new_array(std::vector<py::ssize_t> shape) {
  return Array<T>(shape);
}

void require_size(const py::array& a, py::ssize_t n, const char* name) {
  if (a.size() != n)
    throw std::invalid_argument(std::string(name) + " has " + std::to_string(a.size()) +
                                " elements, expected " + std::to_string(n));
}

py::tuple smooth_switch(Array<double> r, double rcut_smth, double rcut) {
  auto w = new_array<double>({r.size()}), dw = new_array<double>({r.size()});
  for (py::ssize_t k = 0; k < r.size(); ++k)
    deepmt::smooth_switch(w.mutable_data()[k], dw.mutable_data()[k], r.data()[k], rcut_smth, rcut);
  return py::make_tuple(w, dw);
}

Array<double> wrap(Array<double> coord, Array<double> box) {
  require_size(box, 9, "box");
  Array<double> out = new_array<double>({coord.size() / 3, 3});
  std::copy(coord.data(), coord.data() + coord.size(), out.mutable_data());
  deepmt::wrap_into_cell(out.mutable_data(), int(coord.size() / 3), deepmt::cell_from_box(box.data()));
  return out;
}

py::tuple images(Array<double> coord, Array<int> type, Array<double> box, float rcut) {
  require_size(box, 9, "box");
  const int nloc = int(type.size());
  require_size(coord, 3L * nloc, "coord");
  deepmt::ExtendedAtoms<double> ext;
  deepmt::build_periodic_images(ext, coord.data(), type.data(), nloc,
                                deepmt::cell_from_box(box.data()), rcut);
  auto c = new_array<double>({ext.nall(), 3});
  std::copy(ext.coord.begin(), ext.coord.end(), c.mutable_data());
  return py::make_tuple(c, py::array(py::cast(ext.type)), py::array(py::cast(ext.mapping)));
}

std::vector<std::vector<int>> candidates(Array<double> coord, int nloc, float rcut,
                                         const std::string& method) {
  const int nall = int(coord.size() / 3);
  if (nloc < 0 || nloc > nall) throw std::invalid_argument("nloc out of range");
  if (method == "cell") return deepmt::neighbor_candidates_cells(coord.data(), nloc, nall, rcut);
  if (method == "brute") return deepmt::neighbor_candidates_brute(coord.data(), nloc, nall, rcut);
  throw std::invalid_argument("method must be 'cell' or 'brute'");
}

template <typename T>
py::dict env_mat(Array<T> coord, Array<int> type, float rcut, float rcut_smth,
                 std::vector<int> sel, py::object box, int nloc, bool radial,
                 py::object davg, py::object dstd, py::object neighbors) {
  deepmt::EnvMatParams p;
  p.rcut = rcut;
  p.rcut_smth = rcut_smth;
  p.sel = sel;
  p.radial = radial;
  p.validate();
  const int nall = int(type.size());
  require_size(coord, 3L * nall, "coord");
  if (nloc < 0) nloc = nall;
  const py::ssize_t ntypes = p.ntypes(), nnei = p.nnei(), ndesc = p.ndesc();
  Array<T> avg = davg.is_none() ? Array<T>(std::vector<py::ssize_t>{ntypes, ndesc}) : davg.cast<Array<T>>();
  Array<T> std_ = dstd.is_none() ? Array<T>(std::vector<py::ssize_t>{ntypes, ndesc}) : dstd.cast<Array<T>>();
  if (davg.is_none()) std::fill(avg.mutable_data(), avg.mutable_data() + avg.size(), T(0));
  if (dstd.is_none()) std::fill(std_.mutable_data(), std_.mutable_data() + std_.size(), T(1));
  require_size(avg, ntypes * ndesc, "davg");
  require_size(std_, ntypes * ndesc, "dstd");
  deepmt::EnvMatFrameInput<T> in;
  in.coord = coord.data();
  in.type = type.data();
  in.nloc = nloc;
  in.nall = nall;
  in.davg = avg.data();
  in.dstd = std_.data();
  Array<T> box_arr;
  std::vector<std::vector<int>> lists;
  std::vector<int> ilist, numneigh;
  std::vector<const int*> first;
  deepmt::ExternalNeighbors ext;
  if (!neighbors.is_none()) {
    lists = neighbors.cast<std::vector<std::vector<int>>>();
    if (int(lists.size()) != nloc) throw std::invalid_argument("neighbors must have nloc lists");
    for (int i = 0; i < nloc; ++i) {
      ilist.push_back(i);
      numneigh.push_back(int(lists[i].size()));
      first.push_back(lists[i].data());
    }
    ext.inum = nloc;
    ext.ilist = ilist.data();
    ext.numneigh = numneigh.data();
    ext.firstneigh = first.data();
    in.mode = deepmt::NeighborMode::kExternal;
    in.external = &ext;
  } else if (!box.is_none()) {
    box_arr = box.cast<Array<T>>();
    require_size(box_arr, 9, "box");
    in.mode = deepmt::NeighborMode::kPeriodic;
    in.box = box_arr.data();
  }
  auto em = new_array<T>({nloc, ndesc}), dem = new_array<T>({nloc, ndesc, 3});
  auto rij = new_array<T>({nloc, nnei, 3});
  auto nlist = new_array<int>({nloc, nnei}), max_nnei = new_array<int>({ntypes});
  deepmt::EnvMatFrameOutput<T> out{em.mutable_data(), dem.mutable_data(), rij.mutable_data(),
                                   nlist.mutable_data(), max_nnei.mutable_data()};
  deepmt::env_mat_frame(p, in, out);
  py::dict d;
  d["descrpt"] = em;
  d["descrpt_deriv"] = dem;
  d["rij"] = rij;
  d["nlist"] = nlist;
  d["max_nnei"] = max_nnei;
  return d;
}

deepmt::PairLayout layout(const Array<int>& nlist, const py::array& net_deriv, int nloc, int nall) {
  deepmt::PairLayout L;
  L.nloc = nloc;
  L.nall = nall;
  if (nloc <= 0 || nlist.size() % nloc) throw std::invalid_argument("nlist size is not a multiple of nloc");
  L.nnei = int(nlist.size() / nloc);
  if (L.nnei == 0 || net_deriv.size() % (nloc * L.nnei)) throw std::invalid_argument("bad net_deriv size");
  L.ncomp = int(net_deriv.size() / (nloc * L.nnei));
  return L;
}

Array<double> force(Array<double> net, Array<double> in, Array<int> nlist, int nloc, int nall) {
  const auto L = layout(nlist, net, nloc, nall);
  require_size(in, net.size() * 3, "in_deriv");
  auto f = new_array<double>({nall, 3});
  deepmt::prod_force(f.mutable_data(), net.data(), in.data(), nlist.data(), L);
  return f;
}

py::tuple virial(Array<double> net, Array<double> in, Array<double> rij, Array<int> nlist, int nloc,
                 int nall) {
  const auto L = layout(nlist, net, nloc, nall);
  require_size(in, net.size() * 3, "in_deriv");
  require_size(rij, nlist.size() * 3, "rij");
  auto v = new_array<double>({3, 3}), av = new_array<double>({nall, 3, 3});
  deepmt::prod_virial(v.mutable_data(), av.mutable_data(), net.data(), in.data(), rij.data(),
                      nlist.data(), L);
  return py::make_tuple(v, av);
}

Array<double> force_grad(Array<double> grad, Array<double> net, Array<double> in, Array<int> nlist,
                         int nloc, int nall) {
  const auto L = layout(nlist, net, nloc, nall);
  require_size(in, net.size() * 3, "in_deriv");
  auto g = new_array<double>({net.size()});
  deepmt::prod_force_grad(g.mutable_data(), grad.data(), in.data(), nlist.data(), L,
                          int(grad.size() / 3));
  return g;
}

Array<double> virial_grad(Array<double> grad, Array<double> net, Array<double> in,
                          Array<double> rij, Array<int> nlist, int nloc, int nall) {
  const auto L = layout(nlist, net, nloc, nall);
  require_size(grad, 9, "grad");
  require_size(in, net.size() * 3, "in_deriv");
  require_size(rij, nlist.size() * 3, "rij");
  auto g = new_array<double>({net.size()});
  deepmt::prod_virial_grad(g.mutable_data(), grad.data(), in.data(), rij.data(), nlist.data(), L);
  return g;
}

}  // namespace

PYBIND11_MODULE(_kernels, m) {
  m.doc() = "TF-free deepmt kernel library (for tests); see source/op/lib/include/deepmt.";
  m.def("smooth_switch", &smooth_switch, py::arg("r"), py::arg("rcut_smth"), py::arg("rcut"));
  m.def("wrap_into_cell", &wrap, py::arg("coord"), py::arg("box"));
  m.def("periodic_images", &images, py::arg("coord"), py::arg("atype"), py::arg("box"),
        py::arg("rcut"));
  m.def("neighbor_candidates", &candidates, py::arg("coord"), py::arg("nloc"), py::arg("rcut"),
        py::arg("method") = "cell");
  const auto env_args = [](auto f, py::module_& mod, const char* name) {
    mod.def(name, f, py::arg("coord"), py::arg("atype"), py::arg("rcut"), py::arg("rcut_smth"),
            py::arg("sel"), py::arg("box") = py::none(), py::arg("nloc") = -1,
            py::arg("radial") = false, py::arg("davg") = py::none(), py::arg("dstd") = py::none(),
            py::arg("neighbors") = py::none());
  };
  env_args(&env_mat<double>, m, "env_mat");
  env_args(&env_mat<float>, m, "env_mat_f32");
  m.def("prod_force", &force);
  m.def("prod_virial", &virial);
  m.def("prod_force_grad", &force_grad);
  m.def("prod_virial_grad", &virial_grad);
  m.def("max_threads", &deepmt::max_threads);
  m.def("set_num_threads", &deepmt::set_num_threads);
}

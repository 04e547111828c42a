// numpy arrays in and out of eigenflow's matrices. Any numeric dtype and any strides
// are accepted (pybind11's forcecast converts them, copying only when it must); the
// library works on column-major Eigen matrices, so rows always take one copy into them.
// Results come back in the model's own precision (float32 or float64).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <eigenflow/eigenflow.hpp>

#include <string>

namespace eigenflow::python {

namespace py = pybind11;

using InputArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

/// A 2-D array of `columns` columns (any, when negative) as a matrix of S.
template <class S>
Matrix<S> to_matrix(const InputArray& array, const std::string& name, Index columns = -1) {
  if (array.ndim() != 2)
    throw ShapeError(name + ": expected a 2-D array (one row per point), found " + std::to_string(array.ndim()) + " dimension(s)");
  const auto rows = static_cast<Index>(array.shape(0)), cols = static_cast<Index>(array.shape(1));
  if (columns >= 0 && cols != columns)
    throw ShapeError(name + ": expected " + std::to_string(columns) + " columns, found " + std::to_string(cols));
  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Map<const RowMajor> view(array.data(), rows, cols);
  Matrix<S> out = view.template cast<S>();
  detail::require_finite(name.c_str(), out);
  return out;
}

template <class S>
py::array_t<S> to_array(const Matrix<S>& m) {
  py::array_t<S> out({static_cast<py::ssize_t>(m.rows()), static_cast<py::ssize_t>(m.cols())});
  using RowMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<RowMajor>(out.mutable_data(), m.rows(), m.cols()) = m;
  return out;
}

template <class S>
py::array_t<S> to_array(const ColumnVector<S>& v) {
  py::array_t<S> out(static_cast<py::ssize_t>(v.size()));
  Eigen::Map<ColumnVector<S>>(out.mutable_data(), v.size()) = v;
  return out;
}

}  // namespace eigenflow::python

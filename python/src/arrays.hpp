// numpy arrays in and out of eigenflow's matrices, with as few copies as the library's API
// allows. In: the library works on owning column-major Eigen matrices, so rows take one copy,
// read straight from a float32 or float64 array of any strides (C or Fortran order, views,
// negative steps) into the matrix of the model's precision; other numeric dtypes go through
// numpy's cast to float64 first. Out: a result matrix is handed to numpy as it is (a
// Fortran-ordered array owning the matrix through a capsule), not copied. Results come back
// in the model's own precision (float32 or float64).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <eigenflow/eigenflow.hpp>

#include <cstring>
#include <string>
#include <utility>

namespace eigenflow::python {

namespace py = pybind11;

/// An argument as numpy sees it: an array as given (any dtype and strides), or what
/// numpy.asarray makes of anything else (lists, say); to_matrix reads it.
struct InputArray : py::array {
  InputArray() = default;
  explicit InputArray(py::array a) : py::array(std::move(a)) {}
};

namespace detail {

/// out(i, j) = a[i, j] for an array of T with any strides (in bytes, possibly negative or unaligned).
template <class T, class S>
void copy_strided(const py::array& a, Matrix<S>& out) {
  const char* base = static_cast<const char*>(a.data());
  const py::ssize_t row_step = a.strides(0), column_step = a.strides(1);
  for (Index j = 0; j < out.cols(); ++j)
    for (Index i = 0; i < out.rows(); ++i) {
      T value;
      std::memcpy(&value, base + i * row_step + j * column_step, sizeof value);
      out(i, j) = static_cast<S>(value);
    }
}

}  // namespace detail

/// A 2-D array of `columns` columns (any, when negative) as a matrix of S: one copy.
template <class S>
Matrix<S> to_matrix(const py::array& array, const std::string& name, Index columns = -1) {
  if (array.ndim() != 2)
    throw ShapeError(name + ": expected a 2-D array (one row per point), found " + std::to_string(array.ndim()) + " dimension(s)");
  const auto rows = static_cast<Index>(array.shape(0)), cols = static_cast<Index>(array.shape(1));
  if (columns >= 0 && cols != columns)
    throw ShapeError(name + ": expected " + std::to_string(columns) + " columns, found " + std::to_string(cols));
  Matrix<S> out(rows, cols);
  if (py::isinstance<py::array_t<float>>(array)) {
    detail::copy_strided<float>(array, out);
  } else if (py::isinstance<py::array_t<double>>(array)) {
    detail::copy_strided<double>(array, out);
  } else {  // integers, booleans, other byte orders: numpy's cast
    const auto cast = py::array_t<double, py::array::forcecast>::ensure(array);
    if (!cast) throw ValueError(name + ": expected numbers, found an array of dtype " + std::string(py::str(array.dtype())));
    detail::copy_strided<double>(cast, out);
  }
  eigenflow::detail::require_finite(name.c_str(), out);
  return out;
}

/// The matrix itself as a (rows, cols) Fortran-ordered array: moved, not copied.
template <class S>
py::array_t<S> to_array(Matrix<S>&& m) {
  auto* owned = new Matrix<S>(std::move(m));
  const py::capsule owner(owned, [](void* p) { delete static_cast<Matrix<S>*>(p); });
  const auto rows = static_cast<py::ssize_t>(owned->rows()), cols = static_cast<py::ssize_t>(owned->cols());
  const auto size = static_cast<py::ssize_t>(sizeof(S));
  return py::array_t<S>({rows, cols}, {size, size * rows}, owned->data(), owner);
}

/// The vector itself as a 1-D array: moved, not copied.
template <class S>
py::array_t<S> to_array(ColumnVector<S>&& v) {
  auto* owned = new ColumnVector<S>(std::move(v));
  const py::capsule owner(owned, [](void* p) { delete static_cast<ColumnVector<S>*>(p); });
  return py::array_t<S>(static_cast<py::ssize_t>(owned->size()), owned->data(), owner);
}

/// A copy, for a matrix the caller keeps.
template <class S>
py::array_t<S> to_array(const Matrix<S>& m) {
  return to_array(Matrix<S>(m));
}

}  // namespace eigenflow::python

namespace pybind11::detail {
template <>
struct type_caster<eigenflow::python::InputArray> {
  PYBIND11_TYPE_CASTER(eigenflow::python::InputArray, const_name("numpy.ndarray"));
  bool load(handle source, bool) {
    array converted = array::ensure(source);  // numpy.asarray; null (error cleared) when numpy cannot
    if (!converted) return false;
    value = eigenflow::python::InputArray(std::move(converted));
    return true;
  }
};
}  // namespace pybind11::detail

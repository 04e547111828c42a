// The compiled part of the Python package `eigenflow`: the model (model.cpp), training
// (training.cpp), and the library's exceptions as Python's: ValueError for shapes, values,
// options and malformed model files, OSError for files, RuntimeError for numerical failures.
#include <pybind11/pybind11.h>

#include <eigenflow/eigenflow.hpp>

#include "options.hpp"

namespace eigenflow::python {
void bind_model(pybind11::module_& m);
void bind_training(pybind11::module_& m);
}  // namespace eigenflow::python

PYBIND11_MODULE(_eigenflow, m) {
  namespace py = pybind11;
  m.doc() = "eigenflow's C++ core; use the package `eigenflow`";
  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const eigenflow::IoError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const eigenflow::NumericalError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const eigenflow::Error& e) {  // shapes, values, formats
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const eigenflow::cli::UsageError& e) {  // options that make no sense together
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  eigenflow::python::bind_model(m);
  eigenflow::python::bind_training(m);
}

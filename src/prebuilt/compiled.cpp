// The library's costly non-template code, compiled once for eigenflow::prebuilt
// (include/eigenflow/core/compiled.hpp): here, and only here, the *_impl.hpp
// definitions are not inline.
#define EIGENFLOW_INLINE
#include <eigenflow/eigenflow.hpp>

#include "eigenflow/data/linear_mixing_impl.hpp"
#include "eigenflow/distributions/full_covariance_gaussian_impl.hpp"
#include "eigenflow/flows/linear/lu_linear_impl.hpp"
#include "eigenflow/train/pooled_statistics_impl.hpp"
#include "eigenflow/train/projection_pursuit_impl.hpp"
#include "eigenflow/train/subspace_fit_impl.hpp"

// Where the library's costly non-template code is compiled. Eigen's decompositions
// and products in double, called outside any template (fitting a Gaussian, whitening,
// projection pursuit, a random rotation), are defined in *_impl.hpp headers:
//   header-only (the default)  each header includes its _impl.hpp: inline definitions
//   EIGENFLOW_PREBUILT         the headers only declare them; src/prebuilt/compiled.cpp
//                              defines them once, in eigenflow::prebuilt
// A unit that holds such a definition compiles it, and instantiates every template it
// calls, whether the unit calls it or not: over half of an empty unit's compile time,
// under GCC and clang alike (benchmarks/README.md, "Stop 52").
#pragma once

/// `inline` in a header-only build; empty in the one unit that compiles the definitions.
#ifndef EIGENFLOW_INLINE
#define EIGENFLOW_INLINE inline
#endif

// A small, fully specified random engine, so that a seed gives the same
// numbers on every compiler and standard library (std::normal_distribution
// is implementation-defined; tests, data sets and checkpoints need better).
//
// Engine: xoshiro256** (Blackman & Vigna), seeded through splitmix64.
// uniform(): 53 random bits -> [0, 1).  normal(): Box-Muller, both outputs used.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "eigenflow/core/types.hpp"

namespace eigenflow {

class Random {
 public:
  using result_type = std::uint64_t;

  explicit Random(std::uint64_t seed = 0) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& word : state_) word = splitmix64(x);
    has_spare_normal_ = false;
    spare_normal_ = 0.0;
  }

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }

  /// Next 64 random bits (UniformRandomBitGenerator, so <algorithm> can use it).
  result_type operator()() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform on [0, 1), 53 bits of resolution.
  double uniform() { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  /// Uniform on [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform(); }

  /// Uniform integer in [0, n), unbiased (Lemire's multiply-and-reject).
  std::uint64_t below(std::uint64_t n) {
    if (n == 0) return 0;
    const std::uint64_t threshold = (0 - n) % n;
    for (;;) {
      const uint128 product = static_cast<uint128>((*this)()) * n;
      if (static_cast<std::uint64_t>(product) >= threshold)
        return static_cast<std::uint64_t>(product >> 64);
    }
  }

  /// Standard normal variate (Box-Muller: r = sqrt(-2 log u1), angle 2 pi u2).
  double normal() {
    if (has_spare_normal_) {
      has_spare_normal_ = false;
      return spare_normal_;
    }
    constexpr double two_pi = 6.283185307179586476925286766559;
    const double u1 = 1.0 - uniform();  // (0, 1]: log stays finite
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    spare_normal_ = radius * std::sin(two_pi * u2);
    has_spare_normal_ = true;
    return radius * std::cos(two_pi * u2);
  }

  double normal(double mean, double stddev) { return mean + stddev * normal(); }

  /// A rows x cols matrix of independent standard normals, filled row by row
  /// so that the first k rows do not depend on how many rows are asked for.
  template <class Scalar>
  Matrix<Scalar> normal_matrix(Index rows, Index cols) {
    Matrix<Scalar> out(rows, cols);
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j) out(i, j) = static_cast<Scalar>(normal());
    return out;
  }

  /// Fisher-Yates shuffle of [first, last).
  template <class RandomIt>
  void shuffle(RandomIt first, RandomIt last) {
    const auto n = last - first;
    for (auto i = n - 1; i > 0; --i) {
      const auto j = static_cast<decltype(i)>(below(static_cast<std::uint64_t>(i + 1)));
      using std::swap;
      swap(first[i], first[j]);
    }
  }

  /// The complete engine state, for checkpoints.
  struct State {
    std::array<std::uint64_t, 4> words;
    bool has_spare_normal;
    double spare_normal;
  };
  State state() const { return {state_, has_spare_normal_, spare_normal_}; }
  void set_state(const State& s) {
    state_ = s.words;
    has_spare_normal_ = s.has_spare_normal;
    spare_normal_ = s.spare_normal;
  }

 private:
  __extension__ using uint128 = unsigned __int128;  // GCC/Clang extension; pedantic-clean

  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::array<std::uint64_t, 4> state_{};
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

}  // namespace eigenflow

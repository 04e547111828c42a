// The random engine: reproducible, right moments, unbiased integers.
#include <catch2/catch.hpp>
#include <eigenflow/core/random.hpp>

#include <cmath>
#include <numeric>
#include <vector>

using eigenflow::Random;

TEST_CASE("the same seed gives the same stream; another seed another", "[random]") {
  Random a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const auto x = a();
    CHECK(x == b());
    if (i == 0) CHECK(x != c());
  }
}

TEST_CASE("uniform and normal variates have the right moments", "[random]") {
  Random rng(1);
  const int n = 200000;
  double su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    su += u;
    su2 += u * u;
    const double z = rng.normal();
    sn += z;
    sn2 += z * z;
    sn4 += z * z * z * z;
  }
  // Tolerances: about 5 standard errors of each estimate.
  CHECK(su / n == Approx(0.5).margin(5 * std::sqrt(1.0 / 12 / n)));
  CHECK(su2 / n == Approx(1.0 / 3).margin(5 * 0.3 / std::sqrt(n)));
  CHECK(sn / n == Approx(0.0).margin(5 / std::sqrt(n)));
  CHECK(sn2 / n == Approx(1.0).margin(5 * std::sqrt(2.0 / n)));
  CHECK(sn4 / n == Approx(3.0).margin(5 * std::sqrt(96.0 / n)));
}

TEST_CASE("below(n) is uniform over 0..n-1", "[random]") {
  Random rng(2);
  std::vector<int> counts(7, 0);
  const int n = 70000;
  for (int i = 0; i < n; ++i) ++counts[rng.below(7)];
  double chi2 = 0;
  for (int c : counts) chi2 += (c - n / 7.0) * (c - n / 7.0) / (n / 7.0);
  CHECK(chi2 < 22.46);  // chi-square, 6 degrees of freedom, p = 0.001
}

TEST_CASE("shuffle is a permutation and the state round-trips", "[random]") {
  Random rng(3);
  std::vector<int> v(50);
  std::iota(v.begin(), v.end(), 0);
  rng.shuffle(v.begin(), v.end());
  std::vector<int> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i) CHECK(sorted[i] == i);
  CHECK(v != sorted);

  rng.normal();  // leaves a spare normal cached
  const auto saved = rng.state();
  const double next = rng.normal(), after = rng.normal();
  Random other(0);
  other.set_state(saved);
  CHECK(other.normal() == next);
  CHECK(other.normal() == after);
}

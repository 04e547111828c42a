// Data sets: reproducible, the right shapes and distributions, closed-form
// densities that integrate to one and agree with the generators; splits,
// standardisation, CSV files, and the full-covariance Gaussian baseline.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include "test_support.hpp"

#include <Eigen/LU>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

using namespace eigenflow;

namespace {

std::string temp_path(const std::string& name) { return "eigenflow_test_" + name; }

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

}  // namespace

TEST_CASE("every data set is reproducible, finite and of the requested size", "[data]") {
  for (const auto& info : datasets()) {
    Random a(5), b(5), c(6);
    const Matrix<double> x = generate_dataset(info.name, 501, a);
    INFO(info.name);
    CHECK(x.rows() == 501);
    CHECK(x.cols() == info.default_dim);
    CHECK(x.allFinite());
    CHECK(x == generate_dataset(info.name, 501, b));
    CHECK(x != generate_dataset(info.name, 501, c));
  }
}

TEST_CASE("two moons follows make_moons: centres on the two half circles", "[data]") {
  const Matrix<double> centres = two_moons_centres(7);  // 3 outer, 4 inner
  CHECK(centres(0, 0) == Approx(1.0));
  CHECK(centres(2, 0) == Approx(-1.0));
  CHECK(centres(1, 1) == Approx(1.0));
  CHECK(centres(3, 0) == Approx(0.0).margin(1e-15));
  CHECK(centres(3, 1) == Approx(0.5));
  CHECK(centres(6, 0) == Approx(2.0));
  Random rng(1);
  const Matrix<double> x = two_moons(20000, 0.0, rng);
  // noise-free points lie exactly on a unit circle around (0, 0) or (1, 0.5)
  for (Index i = 0; i < x.rows(); ++i) {
    const double outer = std::hypot(x(i, 0), x(i, 1)), inner = std::hypot(x(i, 0) - 1, x(i, 1) - 0.5);
    REQUIRE(std::min(std::abs(outer - 1), std::abs(inner - 1)) < 1e-12);
  }
  CHECK(x.col(0).mean() == Approx(0.5).margin(1e-3));   // by symmetry of the two moons
  CHECK(x.col(1).mean() == Approx(0.25).margin(1e-3));
}

TEST_CASE("blobs split points evenly and use the course centres by default", "[data]") {
  Random rng(2);
  const Matrix<double> x = generate_dataset("blobs", 500, rng, 0.2);
  Index near_first = 0;
  for (Index i = 0; i < x.rows(); ++i) near_first += x(i, 0) < 0 ? 1 : 0;
  CHECK(std::abs(near_first - 250) < 15);  // 250 each, a few cross x = 0
  CHECK(blob_counts(7, 3)(0) == 3);
  CHECK(blob_counts(7, 3)(2) == 2);
}

TEST_CASE("closed-form densities integrate to one", "[data]") {
  // 60 × 60 cells over a box that holds the mass, refined where the midpoint rule disagrees with itself
  auto check_mass = [](const std::string& set, const std::function<ColumnVector<double>(const Matrix<double>&)>& log_density,
                       double x_low, double x_high, double y_low, double y_high) {
    const auto mass = eigenflow::test::integrate_2d(log_density, eigenflow::test::uniform_axis(x_low, x_high, 60),
                                                    eigenflow::test::uniform_axis(y_low, y_high, 60), 2e-7);
    INFO(set << ": mass " << mass.value << ", estimated error " << mass.error_estimate);
    CHECK(mass.value == Approx(1.0).margin(2e-3));
  };
  check_mass("two-moons", dataset_log_density("two-moons", 300, 0.1), -2.5, 3.5, -2, 2.5);
  check_mass("blobs", dataset_log_density("blobs", 500), -2.5, 2.5, -2.5, 2.5);
  check_mass("8gaussians", dataset_log_density("8gaussians", 1), -5, 5, -5, 5);
  check_mass("rings", dataset_log_density("rings", 400), -4, 4, -4, 4);
  check_mass("circles", dataset_log_density("circles", 400), -4, 4, -4, 4);
  check_mass("boomerang", dataset_log_density("boomerang", 1), -15, 60, -20, 20);
}

TEST_CASE("densities agree with their generators: the entropy two ways", "[data]") {
  // Boomerang's entropy is known in closed form: log(2πe) + log 4.
  Random rng(3);
  const double exact = std::log(2 * M_PI * std::exp(1.0)) + std::log(4.0);
  CHECK(dataset_entropy("boomerang", 1, std::nullopt, 200000, rng) == Approx(exact).margin(0.01));
  // For a mixture, points from the generator and from the mixture give the same mean log density.
  const auto log_density = dataset_log_density("two-moons", 3000, 0.05);
  Random a(4), b(5);
  const double from_generator = -log_density(two_moons(3000, 0.05, a)).mean();
  const double from_mixture = dataset_entropy("two-moons", 3000, 0.05, 3000, b);
  CHECK(from_generator == Approx(from_mixture).margin(0.06));
  CHECK(from_mixture == Approx(0.297).margin(0.06));  // the raw-coordinate entropy quoted in the training issue
}

TEST_CASE("mixed sets: the density is the change of variables of its generator", "[data]") {
  // Independently: s = A⁻¹x by an LU solve, log|det A| by Eigen's determinant.
  for (Index dim : {3, 8}) {
    const MixedMoons moons(300, 0.1, dim);
    const MixedHelix helix(200, 0.1, dim);
    const MixedSources sources(100, dim);
    auto check = [dim](const auto& set, auto structure_log_prob) {
      const Matrix<double> a = set.mixing();
      const Index k = set.structure_dim();
      Random rng(7);
      const Matrix<double> x = rng.normal_matrix<double>(50, dim) * 1.5;
      const Matrix<double> s = a.partialPivLu().solve(Matrix<double>(x.transpose())).transpose();
      ColumnVector<double> expected = structure_log_prob(Matrix<double>(s.leftCols(k)));
      expected.array() += -0.5 * s.rightCols(dim - k).array().square().rowwise().sum() -
                          0.5 * double(dim - k) * std::log(2 * M_PI) - std::log(std::abs(a.determinant()));
      CHECK((set.log_prob(x) - expected).cwiseAbs().maxCoeff() <= 1e-10);
      CHECK(set.log_abs_det_mixing() == Approx(std::log(std::abs(a.determinant()))).epsilon(1e-12));
      CHECK((a.transpose() * a).diagonal().minCoeff() >= 1 - 1e-12);  // columns keep their scales 1 to 2
    };
    INFO("D=" << dim);
    check(moons, [](const Matrix<double>& t) { return two_moons_distribution(300, 0.1).log_prob(t); });
    check(helix, [](const Matrix<double>& t) {  // the mixture written out: a sum of exp, no log-sum-exp
      const Matrix<double> c = helix_centres(200);
      ColumnVector<double> out(t.rows());
      for (Index i = 0; i < t.rows(); ++i) {
        double total = 0;
        for (Index j = 0; j < c.rows(); ++j) total += std::exp(-(t.row(i) - c.row(j)).squaredNorm() / (2 * 0.01));
        out(i) = std::log(total / 200) - 1.5 * std::log(2 * M_PI * 0.01);
      }
      return out;
    });
    check(sources, [](const Matrix<double>& t) {  // the four marginals written from their textbook densities
      ColumnVector<double> out = ColumnVector<double>::Zero(t.rows());
      auto normal = [](double v, double m, double sd) { return std::exp(-0.5 * (v - m) * (v - m) / (sd * sd)) / (sd * std::sqrt(2 * M_PI)); };
      for (Index i = 0; i < t.rows(); ++i)
        for (Index j = 0; j < t.cols(); ++j) {
          const double v = t(i, j);
          const double p = j % 4 == 0   ? 0.5 * normal(v, -1, 0.5) + 0.5 * normal(v, 1, 0.5)
                           : j % 4 == 1 ? std::exp(-std::abs(v) * std::sqrt(2.0)) / std::sqrt(2.0)
                           : j % 4 == 2 ? std::exp(-v - std::exp(-v))
                                        : (normal(v, -2, 0.35) + normal(v, 0, 0.35) + normal(v, 2, 0.35)) / 3;
          out(i) += std::log(p);
        }
      return out;
    });
  }
}

TEST_CASE("mixed sets: each density integrates to one and its samples follow it", "[data]") {
  // D = 3, a grid over a box that holds all but ~1e-12 of the mass: the trapezoid rule
  // (spacing 0.08 against the helix's noise 0.15 and the sources' smallest sd 0.5) is
  // accurate to ~1e-9 for Gaussian bumps; the Laplace kink of a source costs O(h²).
  auto integral = [](const auto& set, double half_width, double step) {
    const auto n = static_cast<Index>(std::lround(2 * half_width / step)) + 1;
    Matrix<double> plane(n * n, 3);
    double total = 0;
    for (Index a = 0; a < n; ++a) {
      for (Index b = 0; b < n; ++b)
        for (Index c = 0; c < n; ++c) {
          plane(b * n + c, 0) = -half_width + step * double(a);
          plane(b * n + c, 1) = -half_width + step * double(b);
          plane(b * n + c, 2) = -half_width + step * double(c);
        }
      total += set.log_prob(plane).array().exp().sum();
    }
    return total * step * step * step;
  };
  CHECK(integral(MixedHelix(60, 0.15, 3), 4.5, 0.08) == Approx(1).margin(1e-6));
  CHECK(integral(MixedSources(10, 3), 12.0, 0.08) == Approx(1).margin(1e-4));
  // Every source's marginal on its own, on a fine 1-D grid (the Gumbel's left tail dies as exp(−e^{−s})).
  for (Index kind = 0; kind < IndependentSources::kinds; ++kind) {
    double mass = 0;
    for (double s = -40; s <= 60; s += 1e-3) mass += std::exp(IndependentSources::marginal_log_prob(kind, s)) * 1e-3;
    INFO("kind " << kind);
    CHECK(mass == Approx(1).margin(1e-6));
  }
  // Samples follow the density: −E log p over them is the entropy, by quadrature
  // for each marginal (a sampler off its density would be off by a KL).
  const IndependentSources sources(4, 1);
  Random rng(11);
  const Matrix<double> draws = sources.sample(200000, rng);
  for (Index kind = 0; kind < IndependentSources::kinds; ++kind) {
    double entropy = 0;
    for (double s = -40; s <= 60; s += 1e-3) {
      const double lp = IndependentSources::marginal_log_prob(kind, s);
      entropy -= std::exp(lp) * lp * 1e-3;
    }
    double sampled = 0;
    for (Index i = 0; i < draws.rows(); ++i) sampled -= IndependentSources::marginal_log_prob(kind, draws(i, kind));
    INFO("kind " << kind);
    CHECK(sampled / double(draws.rows()) == Approx(entropy).margin(0.01));  // MC standard error ≈ 0.002
  }
  // The whole D: −E log p over fresh draws is H(structure) + (D − k)·½·log(2πe) + log|det A|.
  const Index dim = 6;
  Random a(8), b(9), c(12), d(13);
  const double moons = dataset_entropy("two-moons", 300, 0.1, 40000, a);
  const double mixed = dataset_entropy("mixed-moons", 300, 0.1, 40000, b, dim);
  const double expected = moons + 0.5 * double(dim - 2) * std::log(2 * M_PI * std::exp(1.0)) + MixedMoons(300, 0.1, dim).log_abs_det_mixing();
  CHECK(mixed == Approx(expected).margin(0.05));  // MC standard errors ~0.01 and ~0.005
  const MixedHelix helix(300, 0.1, dim);
  const Matrix<double> helix_points = helix.structure().sample(40000, c);
  const double helix_entropy = -helix.structure().log_prob(helix_points).mean();
  CHECK(dataset_entropy("mixed-helix", 300, 0.1, 40000, d, dim) ==
        Approx(helix_entropy + 0.5 * double(dim - 3) * std::log(2 * M_PI * std::exp(1.0)) + helix.log_abs_det_mixing()).margin(0.05));
}

TEST_CASE("mixed sets: the generated set is the structure's own rows, mixed", "[data]") {
  Random c(10);
  const Matrix<double> x = generate_dataset("mixed-moons", 400, c, 0.05, 5);
  REQUIRE(x.cols() == 5);
  const Matrix<double> s = (x * MixedMoons(400, 0.05, 5).mixing().inverse().transpose());
  Random d(10);
  const Matrix<double> moons_points = two_moons(400, 0.05, d);
  CHECK((s.leftCols(2) - moons_points).cwiseAbs().maxCoeff() <= 1e-12);
  // The helix's noise-free centres sit on the unit cylinder and rise from −1 to 1 over two turns.
  const Matrix<double> centres = helix_centres(101);
  CHECK((centres.leftCols(2).rowwise().norm().array() - 1).abs().maxCoeff() <= 1e-12);
  CHECK(centres(0, 2) == Approx(-1));
  CHECK(centres(100, 2) == Approx(1));
  CHECK(centres(50, 0) == Approx(1));  // one whole turn at the middle
  Random e(14);
  const Matrix<double> y = generate_dataset("mixed-sources", 300, e, std::nullopt, 7);
  CHECK(y.rows() == 300);
  CHECK(y.cols() == 7);
  CHECK(MixedSources(300, 7).structure_dim() == 3);
}

TEST_CASE("data set errors name the problem", "[data]") {
  Random rng(6);
  CHECK_THROWS_WITH(generate_dataset("moons", 10, rng), Catch::Contains("moons") && Catch::Contains("two-moons"));
  CHECK_THROWS_WITH(generate_dataset("two-moons", 0, rng), Catch::Contains("positive"));
  CHECK_THROWS_WITH(generate_dataset("two-moons", 10, rng, -0.1), Catch::Contains("noise"));
  CHECK_THROWS_WITH(generate_dataset("boomerang", 10, rng, 0.1), Catch::Contains("no noise"));
  CHECK_THROWS_WITH(dataset_log_density("pinwheel", 10), Catch::Contains("no closed-form density"));
  CHECK_THROWS_WITH(generate_dataset("two-moons", 10, rng, std::nullopt, 3), Catch::Contains("takes no dimension"));
  CHECK_THROWS_WITH(generate_dataset("mixed-moons", 10, rng, std::nullopt, 2), Catch::Contains("at least 3"));
  CHECK_THROWS_WITH(dataset_log_density("mixed-moons", 10, std::nullopt, 8)(Matrix<double>::Zero(2, 3)), Catch::Contains("8 columns"));
  CHECK_THROWS_WITH(dataset_log_density("mixed-helix", 10, std::nullopt, 4)(Matrix<double>::Zero(2, 3)), Catch::Contains("4 columns"));
  CHECK_THROWS_WITH(generate_dataset("mixed-sources", 10, rng, 0.1, 4), Catch::Contains("no noise"));
  CHECK_THROWS_WITH(generate_dataset("mixed-helix", 10, rng, std::nullopt, 2), Catch::Contains("at least 3"));
}

TEST_CASE("split and standardisation", "[data]") {
  Random rng(7);
  const Matrix<double> x = generate_dataset("boomerang", 1000, rng);
  const DataSplit split = split_dataset(x, 0.1, 0.2, rng);
  CHECK(split.train.rows() == 700);
  CHECK(split.validation.rows() == 100);
  CHECK(split.test.rows() == 200);
  // the three parts hold every point once: their column sums add up to the whole
  CHECK((split.train.colwise().sum() + split.validation.colwise().sum() + split.test.colwise().sum() - x.colwise().sum())
            .cwiseAbs()
            .maxCoeff() < 1e-9);
  const Standardization s = Standardization::fit(split.train);
  const Matrix<double> standard = s.apply(split.train);
  CHECK(standard.colwise().mean().cwiseAbs().maxCoeff() < 1e-12);
  CHECK(((standard.array().square().colwise().sum() / 700.0).sqrt() - 1).abs().maxCoeff() < 1e-12);
  CHECK((s.invert(standard) - split.train).cwiseAbs().maxCoeff() < 1e-12);
  CHECK_THROWS_AS(split_dataset(x, 0.5, 0.5, rng), ValueError);
  CHECK_THROWS_WITH(Standardization::fit(Matrix<double>::Ones(5, 2)), Catch::Contains("constant"));
}

TEST_CASE("CSV files round-trip bit-identically", "[data][csv]") {
  Random rng(8);
  const Matrix<double> x = generate_dataset("two-moons", 50, rng);
  const std::string path = temp_path("roundtrip.csv");
  write_csv(path, x, point_header(2));
  const CsvTable table = read_csv(path, 2);
  CHECK(table.header == std::vector<std::string>{"x0", "x1"});
  CHECK(table.values == x);
  write_csv(path, x, {});
  CHECK(read_csv(path).values == x);
  std::remove(path.c_str());
}

TEST_CASE("a CSV file larger than one storage chunk reads back in order, reporting rows as it goes", "[data][csv]") {
  // 30,001 rows x 3 columns: 90,003 values, past the reader's 65,536-value chunks.
  Random rng(17);
  const Matrix<double> values = rng.normal_matrix<double>(30001, 3);
  const std::string path = temp_path("chunks.csv");
  write_csv(path, values, point_header(3));
  std::vector<std::size_t> reports;
  CsvProgress progress;
  progress.every = 10000;
  progress.report = [&](std::size_t rows) { reports.push_back(rows); };
  const CsvTable table = read_csv(path, 3, progress);
  std::remove(path.c_str());
  CHECK(table.values == values);  // exact: every value in its row and column
  CHECK(reports == std::vector<std::size_t>{10000, 20000, 30000});
}

TEST_CASE("bad CSV files are reported with file and line", "[data][csv]") {
  const std::string path = temp_path("bad.csv");
  auto error_of = [&](const std::string& text) {
    write_text(path, text);
    try {
      read_csv(path, 2);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of(""), Catch::Contains("empty file"));
  CHECK_THAT(error_of("x0,x1\n"), Catch::Contains("header only"));
  CHECK_THAT(error_of("1,2\n3,4,5\n"), Catch::Contains(":2:") && Catch::Contains("expected 2 fields"));
  CHECK_THAT(error_of("x,y\n1,2\n3,abc\n"), Catch::Contains(":3:") && Catch::Contains("'abc' is not a number"));
  CHECK_THAT(error_of("1,2\nnan,4\n"), Catch::Contains(":2:") && Catch::Contains("non-finite"));
  CHECK_THAT(error_of("1,2\n3,inf\n"), Catch::Contains("non-finite"));
  CHECK_THAT(error_of("1,2,3\n"), Catch::Contains("expected points with 2 columns"));
  CHECK_THAT(error_of(std::string("1,2\n\x01\x02\0\xff,3\n", 12)), Catch::Contains("binary"));
  CHECK_THAT(error_of("1,2\n" + std::string(1 << 20, '7') + "x,1\n"), Catch::Contains(":2:") && Catch::Contains("..."));
  CHECK_THROWS_AS(read_csv("/nonexistent/file.csv"), IoError);
  std::remove(path.c_str());
}

TEST_CASE("the parts of a CSV file are its rows in order, each row in exactly one part", "[data][csv]") {
  // The parts joined in order; a part in which no line starts (more parts than lines, or a
  // long line across it) is refused, and holds nothing.
  auto joined_parts = [](const std::string& path, int parts, Index cols, std::vector<std::string>* header = nullptr) {
    Matrix<double> joined(0, cols);
    for (int part = 0; part < parts; ++part) {
      CsvTable table;
      try {
        table = read_csv_part(path, part, parts, cols);
      } catch (const FormatError& e) {
        CHECK_THAT(e.what(), Catch::Contains("no data rows in this part"));
        continue;
      }
      if (header) CHECK(table.header == *header);
      Matrix<double> grown(joined.rows() + table.values.rows(), cols);
      grown << joined, table.values;
      joined = grown;
    }
    return joined;
  };
  Random rng(23);
  const Matrix<double> values = rng.normal_matrix<double>(101, 3);
  const std::string path = temp_path("parts.csv");
  for (const bool with_header : {true, false}) {
    std::vector<std::string> header = with_header ? point_header(3) : std::vector<std::string>{};
    write_csv(path, values, header);
    for (const int parts : {1, 2, 3, 7, 101, 400}) {
      INFO("parts " << parts << (with_header ? " with" : " without") << " a header");
      CHECK(joined_parts(path, parts, 3, &header) == values);  // exact, in order: no row lost, none twice
    }
  }
  // Lines that straddle a part's first byte belong to the part before; CRLF line ends too.
  write_text(path, "a,b\r\n1,2\r\n33333333,4\r\n5,6\r\n");
  CHECK(joined_parts(path, 4, 2) == (Matrix<double>(3, 2) << 1, 2, 33333333, 4, 5, 6).finished());
  CHECK_THROWS_WITH(read_csv_part(path, 2, 4), Catch::Contains("no data rows in this part"));  // inside the long line
  std::remove(path.c_str());
}

TEST_CASE("bad CSV parts are reported with the part, its first byte and the line", "[data][csv]") {
  const std::string path = temp_path("bad_parts.csv");
  write_text(path, "x,y\n1,2\n3,4\n5,6\n7,oops\n");
  CHECK(read_csv_part(path, 0, 2).values.rows() == 2);
  CHECK_THROWS_WITH(read_csv_part(path, 1, 2), Catch::Contains("(part 2 of 2, lines counted from its byte 12):2:") &&
                                                   Catch::Contains("'oops' is not a number"));
  write_text(path, "1,2\n3,4\nx,y\n5,6\n");  // a header-like line past the first
  CHECK_THROWS_WITH(read_csv_part(path, 1, 2), Catch::Contains(":1: 'x' is not a number"));
  write_text(path, "1,2\n");
  CHECK_THROWS_WITH(read_csv_part(path, 1, 2), Catch::Contains("no data rows in this part"));
  CHECK_THROWS_AS(read_csv_part(path, 2, 2), ValueError);
  CHECK_THROWS_AS(read_csv_part("/nonexistent/file.csv", 0, 2), IoError);
  std::remove(path.c_str());
}

TEST_CASE("the split's plan is split_dataset's: the same rows in each split", "[data]") {
  Random rng(3);
  const Matrix<double> x = rng.normal_matrix<double>(157, 2);
  Random a(9), b(9);
  const DataSplit split = split_dataset(x, 0.15, 0.1, a);
  const SplitPlan plan = plan_split(157, 0.15, 0.1, b);
  CHECK(plan.train + plan.validation + plan.test == 157);
  CHECK(plan.validation == 24);  // round(0.15 · 157)
  CHECK(plan.test == 16);
  CHECK(split.train == select_rows(x, plan.order, 0, plan.train));
  CHECK(split.validation == select_rows(x, plan.order, plan.train, plan.validation));
  CHECK(split.test == select_rows(x, plan.order, plan.train + plan.validation, plan.test));
}

TEST_CASE("the full-covariance Gaussian baseline: the ML fit, its density against the direct formula, its integral", "[data][baseline]") {
  Random rng(91);
  Matrix<double> mixing(3, 3);
  mixing << 1.0, 0.0, 0.0, 0.8, 0.5, 0.0, -0.3, 0.4, 0.2;
  const Matrix<double> data = (rng.normal_matrix<double>(5000, 3) * mixing.transpose()).rowwise() +
                              (RowVector<double>(3) << 1, -2, 0.5).finished();
  const FullCovarianceGaussian g = FullCovarianceGaussian::fit(data);
  RowVector<double> mean = RowVector<double>::Zero(3);
  for (Index i = 0; i < data.rows(); ++i) mean += data.row(i) / 5000.0;
  Matrix<double> covariance = Matrix<double>::Zero(3, 3);
  for (Index i = 0; i < data.rows(); ++i) covariance += (data.row(i) - mean).transpose() * (data.row(i) - mean) / 5000.0;
  CHECK((g.mean() - mean).cwiseAbs().maxCoeff() <= 1e-12);
  CHECK((g.covariance() - covariance).cwiseAbs().maxCoeff() <= 1e-12);

  const Matrix<double> x = data.topRows(20);
  const ColumnVector<double> log_p = g.log_prob(x);
  for (Index i = 0; i < x.rows(); ++i) {
    const RowVector<double> c = x.row(i) - mean;
    const double direct = -0.5 * (c * covariance.inverse() * c.transpose())(0, 0) - 0.5 * std::log(covariance.determinant()) -
                          1.5 * std::log(2 * M_PI);
    CHECK(log_p(i) == Approx(direct).epsilon(1e-12));
  }
  // The NLL of its own law's fresh draws is its entropy ½ log((2πe)³ det Σ).
  const Matrix<double> fresh = (rng.normal_matrix<double>(200000, 3) * mixing.transpose()).rowwise() +
                               (RowVector<double>(3) << 1, -2, 0.5).finished();
  const double entropy = 0.5 * std::log(std::pow(2 * M_PI * M_E, 3) * (mixing * mixing.transpose()).determinant());
  CHECK(g.mean_negative_log_likelihood(fresh) == Approx(entropy).margin(0.01));

  // In 2D it integrates to 1 (midpoint rule over ±8 sd).
  const FullCovarianceGaussian g2 = FullCovarianceGaussian::fit(data.leftCols(2));
  const double h = 0.02;
  double total = 0;
  Matrix<double> row(1, 2);
  Matrix<double> grid(800, 2);
  for (int i = 0; i < 800; ++i) {
    grid.col(0).setConstant(g2.mean()(0) - 8 + (i + 0.5) * h);
    for (int j = 0; j < 800; ++j) grid(j, 1) = g2.mean()(1) - 8 * std::sqrt(g2.covariance()(1, 1)) + (j + 0.5) * h * std::sqrt(g2.covariance()(1, 1));
    total += g2.log_prob(grid).array().exp().sum() * h * h * std::sqrt(g2.covariance()(1, 1));
  }
  CHECK(total == Approx(1).margin(1e-6));

  Matrix<double> dependent = data.leftCols(2);
  dependent.col(1) = 2 * dependent.col(0);
  CHECK_THROWS_WITH(FullCovarianceGaussian::fit(dependent), Catch::Contains("singular"));
  CHECK_THROWS_WITH(FullCovarianceGaussian::fit(data.topRows(3)), Catch::Contains("more rows than columns"));
  Matrix<double> bad = data.topRows(10);
  bad(4, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS(FullCovarianceGaussian::fit(bad));
  CHECK_THROWS_AS(g.log_prob(data.leftCols(2)), ShapeError);
}

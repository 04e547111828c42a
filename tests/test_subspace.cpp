// The subspace flow (flows/subspace.hpp, train/subspace_fit.hpp): k = 0 is the
// rows' full-covariance Gaussian, k = D is the inner flow, and the search keeps
// the candidate that is best on validation. (The layer's conformance — log-dets,
// round trips, gradients, integration, save/load — is in the layer zoo's loops.)
#include <catch2/catch.hpp>

#include "layer_zoo.hpp"
#include "test_support.hpp"

#include <cstdio>

using namespace eigenflow;

namespace {

/// Rows with correlated, shifted, scaled Gaussian columns.
Matrix<double> correlated_gaussian_rows(Index n, Index dim, Random& rng) {
  const Matrix<double> mixing = eigenflow::test::random_weight(dim, rng) * 1.5;
  return (rng.normal_matrix<double>(n, dim) * mixing.transpose()).rowwise() + RowVector<double>::LinSpaced(dim, -3, 4);
}

}  // namespace

TEMPLATE_TEST_CASE("a subspace flow of k = 0 is the full-covariance Gaussian of its training rows", "[subspace]", float, double) {
  Random rng(1);
  const Index dim = 6;
  const Matrix<double> rows = correlated_gaussian_rows(500, dim, rng);
  const FlowStack<TestType> flow = subspace_flow<TestType>(rows, 0, {}, rng);
  const Matrix<double> held_out = rng.normal_matrix<double>(200, dim) * 3;
  const ColumnVector<double> expected = FullCovarianceGaussian::fit(rows).log_prob(held_out);
  const ColumnVector<double> found = flow.log_prob(held_out.cast<TestType>()).template cast<double>();
  const double tolerance = std::is_same_v<TestType, double> ? 1e-10 : 1e-4 * expected.cwiseAbs().maxCoeff();
  CHECK((found - expected).cwiseAbs().maxCoeff() <= tolerance);
}

TEST_CASE("every candidate starts as the Gaussian: identity inner layers, rotations of the whitened rows", "[subspace]") {
  Random rng(2);
  const Index dim = 5;
  const Matrix<double> rows = correlated_gaussian_rows(400, dim, rng);
  const Matrix<double> held_out = rng.normal_matrix<double>(100, dim) * 2;
  const ColumnVector<double> expected = FullCovarianceGaussian::fit(rows).log_prob(held_out);
  for (const Index k : {1, 2, 3, 5})
    for (const SubspaceStart start : {SubspaceStart::identity, SubspaceStart::random_rotation, SubspaceStart::pursuit}) {
      SubspaceFlowOptions options;
      options.start = start;
      const FlowStack<double> flow = subspace_flow<double>(rows, k, options, rng);
      INFO("k = " << k);
      CHECK((flow.log_prob(held_out) - expected).cwiseAbs().maxCoeff() <= 1e-9);
    }
}

TEST_CASE("a subspace layer of k = D is its inner flow, and of k < D copies the other coordinates exactly", "[subspace]") {
  Random rng(3);
  const Index dim = 4;
  const auto layer = eigenflow::test::random_subspace(dim, dim, rng);
  const auto& subspace = dynamic_cast<const Subspace<double>&>(*layer);
  FlowStack<double> inner(dim);
  for (std::size_t j = 0; j < subspace.size(); ++j) inner.append(subspace.layer(j).clone());
  const Matrix<double> x = rng.normal_matrix<double>(50, dim);
  const Transformed<double> whole = layer->forward(x), alone = inner.forward(x);
  CHECK(whole.points == alone.points);
  CHECK(whole.log_det == alone.log_det);

  const auto partial = eigenflow::test::random_subspace(dim, 2, rng);
  const Transformed<double> z = partial->forward(x);
  CHECK(z.points.rightCols(2) == x.rightCols(2));
  CHECK((z.points.leftCols(2) - x.leftCols(2)).cwiseAbs().maxCoeff() > 1e-3);  // the inner flow does move u
}

TEST_CASE("a subspace layer refuses what it cannot hold", "[subspace]") {
  Random rng(4);
  CHECK_THROWS_AS(Subspace<double>(3, 4), ValueError);
  CHECK_THROWS_AS(Subspace<double>(3, -1), ValueError);
  CHECK_THROWS_AS(Subspace<double>(0, 0), ValueError);
  Subspace<double> subspace(3, 2);
  CHECK_THROWS_WITH(subspace.append(std::make_unique<LeakyReLU<double>>(3, 0.5)), Catch::Contains("dimension 3, the subspace 2"));
  CHECK_THROWS_AS(subspace.append(nullptr), ValueError);
  Subspace<double> none(3, 0);
  CHECK_THROWS_AS(none.append(std::make_unique<LeakyReLU<double>>(1, 0.5)), ShapeError);
  auto conditional = eigenflow::test::random_subspace(3, 2, rng, 2);
  const Matrix<double> x = rng.normal_matrix<double>(4, 3);
  CHECK_THROWS_WITH(conditional->forward(x), Catch::Contains("context of 2 columns; none given"));
  CHECK_THROWS_WITH(conditional->forward(x, rng.normal_matrix<double>(4, 3)), Catch::Contains("expected a context of 4x2"));
  CHECK_THROWS_WITH(subspace.forward(rng.normal_matrix<double>(4, 2)), Catch::Contains("subspace.forward"));
  auto& with_context = dynamic_cast<Subspace<double>&>(*conditional);
  CHECK_THROWS_WITH(with_context.append(std::make_unique<SplineCoupling<double>>(SplineCoupling<double>::make(
                        alternating_mask(2, 0), {8, 1, Activation::tanh, 3}, {4, 3.0}, rng))),
                    Catch::Contains("reads a context of 3 columns"));
}

TEST_CASE("the ladder of candidate k is geometric and ends at D", "[subspace]") {
  CHECK(subspace_ladder(1) == std::vector<Index>{0, 1});
  CHECK(subspace_ladder(3) == std::vector<Index>{0, 1, 2, 3});
  CHECK(subspace_ladder(5) == std::vector<Index>{0, 1, 2, 3, 4, 5});
  CHECK(subspace_ladder(8) == std::vector<Index>{0, 1, 2, 3, 4, 6, 8});
  CHECK(subspace_ladder(20) == std::vector<Index>{0, 1, 2, 3, 4, 6, 8, 12, 16, 20});
  CHECK(subspace_ladder(32) == std::vector<Index>{0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32});
  CHECK_THROWS_AS(subspace_ladder(0), ValueError);
}

TEST_CASE("the search keeps the candidate best on validation and finds the moons' plane", "[subspace][train]") {
  Random rng(5);
  const Index dim = 4;
  const Matrix<double> rows = generate_dataset("mixed-moons", 2500, rng, 0.08, dim);
  const DataSplit split = split_dataset(rows, 0.2, 0.0, rng);
  SubspaceSearchOptions search;
  search.training.epochs = 40;
  search.training.patience = 8;
  search.training.batch_size = 128;
  std::vector<Index> seen;
  search.on_candidate = [&](const SubspaceCandidate& c) { seen.push_back(c.active); };
  SubspaceFlowOptions model;
  model.layers = 2;
  model.conditioner.hidden = 32;
  const SubspaceFit<double> fit = fit_subspace_flow<double>(split.train, split.validation, model, search);
  REQUIRE(fit.candidates.size() >= 3);
  CHECK(seen.size() == fit.candidates.size());
  const auto best = std::min_element(fit.candidates.begin(), fit.candidates.end(),
                                     [](const auto& a, const auto& b) { return a.validation_nll < b.validation_nll; });
  CHECK(fit.active == best->active);
  CHECK(mean_negative_log_likelihood(fit.flow, split.validation) == Approx(best->validation_nll).epsilon(1e-12));
  // The moons live in a plane: k = 2 (or more) must beat the Gaussian (k = 0) clearly.
  CHECK(fit.candidates.front().active == 0);
  CHECK(fit.active >= 2);
  CHECK(best->validation_nll < fit.candidates.front().validation_nll - 0.3);
  // the saved model holds the chosen k and scores what the fitted one does
  const std::string path = "eigenflow_test_subspace.json";
  save_model(path, fit.flow);
  const FlowStack<double> loaded = load_model<double>(path);
  std::remove(path.c_str());
  const auto& subspace = dynamic_cast<const Subspace<double>&>(loaded.layer(loaded.size() - 1));
  CHECK(subspace.active() == fit.active);
  CHECK(loaded.log_prob(split.validation) == fit.flow.log_prob(split.validation));
}

TEST_CASE("on Gaussian rows the search ends at the Gaussian or within noise of it", "[subspace][train]") {
  Random rng(6);
  const Index dim = 5;
  const Matrix<double> rows = correlated_gaussian_rows(2000, dim, rng);
  const DataSplit split = split_dataset(rows, 0.25, 0.0, rng);
  SubspaceSearchOptions search;
  search.training.epochs = 30;
  search.training.patience = 6;
  search.training.batch_size = 128;
  SubspaceFlowOptions model;
  model.layers = 2;
  model.conditioner.hidden = 32;
  const SubspaceFit<double> fit = fit_subspace_flow<double>(split.train, split.validation, model, search);
  const double gaussian = FullCovarianceGaussian::fit(split.train).mean_negative_log_likelihood(split.validation);
  CHECK(fit.candidates.front().validation_nll == Approx(gaussian).epsilon(1e-10));
  // never worse than the Gaussian on validation (k = 0 is a candidate; the start rule keeps the others there)
  CHECK(mean_negative_log_likelihood(fit.flow, split.validation) <= gaussian + 1e-9);
  for (const auto& candidate : fit.candidates) CHECK(candidate.validation_nll <= gaussian + 1e-9);
}

TEST_CASE("a fixed k is fitted alone, and impossible settings are refused", "[subspace][train]") {
  Random rng(7);
  const Matrix<double> rows = correlated_gaussian_rows(300, 3, rng);
  const DataSplit split = split_dataset(rows, 0.2, 0.0, rng);
  SubspaceSearchOptions search;
  search.active = 1;
  search.training.epochs = 2;
  const SubspaceFit<float> fit = fit_subspace_flow<float>(split.train, split.validation, {}, search);
  CHECK(fit.active == 1);
  REQUIRE(fit.candidates.size() == 1);
  CHECK(std::isfinite(fit.candidates[0].validation_nll));
  search.active = 4;
  CHECK_THROWS_WITH(fit_subspace_flow<double>(split.train, split.validation, {}, search), Catch::Contains("[0, 3]"));
  search.active = -1;
  CHECK_THROWS_WITH(fit_subspace_flow<double>(split.train, Matrix<double>(0, 3), {}, search), Catch::Contains("validation rows"));
  search.budget_seconds = -1;
  CHECK_THROWS_WITH(fit_subspace_flow<double>(split.train, split.validation, {}, search), Catch::Contains("budget"));
  search.budget_seconds = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(fit_subspace_flow<double>(split.train, split.validation, {}, search), Catch::Contains("budget"));
  search.budget_seconds = 0;
  CHECK_THROWS_WITH(fit_subspace_flow<double>(split.train, split.validation.leftCols(2), {}, search), Catch::Contains("validation"));
  Matrix<double> bad = split.validation;
  bad(1, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH(fit_subspace_flow<double>(split.train, bad, {}, search), Catch::Contains("validation"));
  SubspaceFlowOptions no_layers;
  no_layers.layers = 0;
  CHECK_THROWS_WITH(subspace_flow<double>(split.train, 2, no_layers, rng), Catch::Contains("layers"));
  CHECK_THROWS_WITH(subspace_flow<double>(split.train, 4, {}, rng), Catch::Contains("[0, 3]"));
}

TEST_CASE("a budget cuts the search short and says so", "[subspace][train]") {
  Random rng(8);
  const Matrix<double> rows = generate_dataset("mixed-moons", 3000, rng, 0.08, 6);
  const DataSplit split = split_dataset(rows, 0.2, 0.0, rng);
  SubspaceSearchOptions search;
  search.budget_seconds = 1e-3;
  const SubspaceFit<double> fit = fit_subspace_flow<double>(split.train, split.validation, {}, search);
  CHECK(fit.budget_exhausted);
  REQUIRE(fit.candidates.size() <= 2);  // k = 0, then at most the one it cut short
  if (fit.candidates.size() == 2) CHECK(fit.candidates[1].cut_short);
}

TEST_CASE("the normal quantile inverts the normal CDF to double precision", "[subspace]") {
  CHECK(detail::normal_quantile(0.5) == 0.0);
  CHECK(detail::normal_quantile(0.975) == Approx(1.959963984540054).epsilon(1e-15));
  CHECK(detail::normal_quantile(1e-10) == Approx(-6.361340902404056).epsilon(1e-14));
  double worst = 0;
  for (double p = 1e-300; p < 1; p = p < 1e-3 ? p * 10 : p + 1e-3) {
    const double x = detail::normal_quantile(p);
    const double back = 0.5 * std::erfc(-x / std::sqrt(2.0));
    worst = std::max(worst, std::abs(back - p) / std::min(p, 1 - p));
  }
  INFO("worst relative error of Φ(Φ⁻¹(p)) against p: " << worst);
  CHECK(worst <= 1e-12);
}

TEST_CASE("projection pursuit finds the non-Gaussian directions first, and returns a rotation", "[subspace]") {
  Random rng(9);
  const Index dim = 6, n = 3000;
  // two non-Gaussian sources (uniform and a two-point mixture, both unit variance) among Gaussians, rotated
  Matrix<double> sources = rng.normal_matrix<double>(n, dim);
  for (Index i = 0; i < n; ++i) {
    sources(i, 0) = std::sqrt(3.0) * rng.uniform(-1, 1);
    sources(i, 1) = (rng.uniform(0, 1) < 0.5 ? -0.95 : 0.95) + 0.3 * rng.normal();
  }
  const Matrix<double> rotation = detail::random_rotation(dim, rng);
  const Matrix<double> rows = sources * rotation.transpose();  // row i: R·s_i
  const PursuitDirections found = projection_pursuit(rows, rng);
  INFO("orthogonality " << (found.rotation * found.rotation.transpose() - Matrix<double>::Identity(dim, dim)).cwiseAbs().maxCoeff());
  CHECK((found.rotation * found.rotation.transpose() - Matrix<double>::Identity(dim, dim)).cwiseAbs().maxCoeff() <= 1e-12);
  // the first two directions span the sources' plane R·e_0, R·e_1
  const Matrix<double> plane = rotation.leftCols(2);
  for (Index j = 0; j < 2; ++j) {
    INFO("direction " << j << ", index " << found.index(j));
    CHECK((plane.transpose() * found.rotation.row(j).transpose()).norm() >= 0.99);
  }
  CHECK(found.index(1) > 5 * found.index(2));  // far less Gaussian than any other direction
  for (Index j = 1; j < dim; ++j) CHECK(found.index(j) <= found.index(j - 1) + 1e-3);  // greedy: in decreasing order
  CHECK_THROWS_AS(projection_pursuit(Matrix<double>(1, 3), rng), ValueError);
  Matrix<double> bad = rows;
  bad(4, 2) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(projection_pursuit(bad, rng), ValueError);
}

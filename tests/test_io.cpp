// Model files: save -> load gives bit-identical log_prob (float and double);
// every malformed file is refused with the JSON path of its first problem.
#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

#include "test_support.hpp"

#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

using namespace eigenflow;
using nlohmann::json;
using eigenflow::test::model_load_error;

namespace {

template <class S>
FlowStack<S> every_saveable_layer(Random& rng) {
  FlowStack<S> flow(2);
  RowVector<S> shift(2), scale(2);
  shift << S(0.5), S(-0.25);
  scale << S(0.8), S(1.7);
  flow.set_preprocess(shift, scale);
  flow.append(LeakyReLU<S>(2, S(0.7)));
  flow.append(AffineCoupling<S>::make(alternating_mask<S>(2, 0), {8, 2, Activation::gelu}, Conditioner::separate, ScaleActivation::tanh, rng));
  flow.append(AffineCoupling<S>::make(alternating_mask<S>(2, 1), {8, 1, Activation::silu}, Conditioner::shared, ScaleActivation::identity, rng));
  flow.append(AdditiveCoupling<S>::make(alternating_mask<S>(2, 0), 8, 2, Activation::elu, rng));
  flow.append(Planar<S>::random(2, rng));
  flow.append(Radial<S>::random(2, rng));
  flow.append(Permutation<S>::reverse(2));
  flow.append(MaskedAutoregressive<S>::make(2, Transformer::affine(), {8, 2, Activation::tanh}, InputOrder::natural, rng));
  flow.append(Inverted<MaskedAutoregressive<S>>(
      MaskedAutoregressive<S>::make(2, Transformer::affine(), {8, 1, Activation::relu}, InputOrder::reverse, rng)));
  flow.append(MaskedAutoregressive<S>::make(2, Transformer::rational_quadratic({5, 3.0}), {8, 2, Activation::gelu},
                                            InputOrder::random, rng, false, HiddenDegrees::random));
  flow.append(SplineCoupling<S>::make(alternating_mask<S>(2, 1), {8, 2, Activation::silu}, {6, 2.5}, rng));
  ActNorm<S> actnorm(2);
  actnorm.initialize(rng.normal_matrix<S>(50, 2) * S(3));
  flow.append(actnorm);
  flow.append(LuLinear<S>::random(2, rng));
  flow.append(DenseLinear<S>::random(2, rng));
  CnfTraining adjoint;
  adjoint.gradient = CnfGradient::adjoint;
  adjoint.trace = TraceEstimator::rademacher;
  adjoint.seed = 42;
  flow.append(ContinuousFlow<S, HyperPlanarDynamics<S>>(HyperPlanarDynamics<S>(2, 4, 5, 0, rng), {}, S(1.5), adjoint));
  OdeOptions rk4;
  rk4.method = OdeMethod::rk4;
  rk4.steps = 6;
  CnfTraining penalised;
  penalised.kinetic = 0.1;
  penalised.jacobian = 0.01;
  flow.append(ContinuousFlow<S, MlpDynamics<S>>(MlpDynamics<S>(2, TimeMlp<S>(2, 6, 2, 2, Activation::silu, rng)), rk4, S(1), penalised));
  BatchNorm<S> batch_norm(2);
  batch_norm.update_statistics(rng.normal_matrix<S>(40, 2) * S(2));
  flow.append(batch_norm);
  std::vector<std::unique_ptr<Layer<S>>> inner;
  inner.push_back(std::make_unique<Planar<S>>(Planar<S>::random(1, rng)));
  inner.push_back(std::make_unique<ElementwiseSpline<S>>(RowVector<S>(rng.normal_matrix<S>(1, 11)), SplineShape{4, 3.0}));
  inner.push_back(std::make_unique<LuLinear<S>>(LuLinear<S>::random(1, rng)));
  flow.append(Subspace<S>(2, 1, std::move(inner)));
  flow.append(Subspace<S>(2, 0));
  flow.set_base(std::make_unique<DiagonalGaussian<S>>(RowVector<S>::Constant(2, S(0.1)), RowVector<S>::Constant(2, S(-0.2))));
  return flow;
}

/// A user's own layer type that the model file has no reader or writer for.
struct UnregisteredLayer : Layer<double> {
  LeakyReLU<double> inner{2};
  Index dim() const override { return 2; }
  std::string type() const override { return "my_own_layer"; }
  Transformed<double> forward(const Matrix<double>& x) const override { return inner.forward(x); }
  Transformed<double> inverse(const Matrix<double>& z) const override { return inner.inverse(z); }
  TapedTransformed<double> forward(Tape<double>& tape, const Var<double>& x) override { return inner.forward(tape, x); }
  TapedTransformed<double> inverse(Tape<double>& tape, const Var<double>& z) override { return inner.inverse(tape, z); }
  ParameterList<double> parameters() override { return {}; }
  std::unique_ptr<Layer<double>> clone() const override { return std::make_unique<UnregisteredLayer>(*this); }
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}


}  // namespace

TEMPLATE_TEST_CASE("save then load gives bit-identical log_prob", "[io]", float, double) {
  Random rng(1);
  const FlowStack<TestType> flow = every_saveable_layer<TestType>(rng);
  const std::string path = "eigenflow_test_model.json";
  save_model(path, flow);
  const FlowStack<TestType> loaded = load_model<TestType>(path);
  const Matrix<TestType> x = rng.normal_matrix<TestType>(200, 2);
  CHECK(loaded.log_prob(x) == flow.log_prob(x));  // exact on purpose
  Random a(2), b(2);
  CHECK(loaded.sample(20, a) == flow.sample(20, b));
  CHECK(loaded.size() == flow.size());
  // a continuous flow keeps its solver and training settings
  const auto& cnf = dynamic_cast<const ContinuousFlow<TestType, HyperPlanarDynamics<TestType>>&>(loaded.layer(14));
  CHECK(cnf.training().gradient == CnfGradient::adjoint);
  CHECK(cnf.training().trace == TraceEstimator::rademacher);
  CHECK(cnf.training().seed == 42);
  CHECK(cnf.duration() == TestType(1.5));
  const auto& rk4 = dynamic_cast<const ContinuousFlow<TestType, MlpDynamics<TestType>>&>(loaded.layer(15));
  CHECK(rk4.solver().method == OdeMethod::rk4);
  CHECK(rk4.solver().steps == 6);
  CHECK(rk4.training().kinetic == 0.1);
  const json document = json::parse(read_text(path));
  CHECK(document["format"] == "eigenflow.model");
  CHECK(document["version"] == 1);
  CHECK(document["scalar"] == (std::is_same_v<TestType, float> ? "float32" : "float64"));
  CHECK(document["layers"][1]["s_net"]["layers"][0]["weight"].size() == 8);  // rows are output units (nn.Linear)
  std::remove(path.c_str());
}

TEST_CASE("a truncated model file is refused at every offset", "[io]") {
  Random rng(3);
  const std::string text = model_to_json(every_saveable_layer<double>(rng)).dump();
  int refused = 0, checked = 0;
  for (std::size_t cut = 0; cut < text.size(); cut += std::max<std::size_t>(1, text.size() / 400)) {
    ++checked;
    try {
      model_from_json<double>(json::parse(text.substr(0, cut)));
    } catch (const json::parse_error&) {
      ++refused;
    } catch (const FormatError&) {
      ++refused;
    }
  }
  CHECK(refused == checked);
  const std::string path = "eigenflow_test_truncated.json";
  {
    std::ofstream out(path);
    out << text.substr(0, text.size() / 2);
  }
  CHECK_THROWS_WITH(load_model<double>(path), Catch::Contains("not valid JSON"));
  std::remove(path.c_str());
}

TEST_CASE("malformed model documents name the JSON path of the problem", "[io]") {
  Random rng(4);
  const json good = model_to_json(every_saveable_layer<double>(rng));
  REQUIRE(model_load_error(good) == "no error");
  auto with = [&](const std::function<void(json&)>& change) {
    json document = good;
    change(document);
    return model_load_error(document);
  };
  CHECK_THAT(with([](json& d) { d["format"] = "something"; }), Catch::Contains("/format"));
  CHECK_THAT(with([](json& d) { d["version"] = 2; }), Catch::Contains("/version") && Catch::Contains("unsupported"));
  CHECK_THAT(with([](json& d) { d["scalar"] = "float16"; }), Catch::Contains("/scalar"));
  CHECK_THAT(with([](json& d) { d["dim"] = "two"; }), Catch::Contains("/dim") && Catch::Contains("integer"));
  CHECK_THAT(with([](json& d) { d["dim"] = 0; }), Catch::Contains("/dim"));
  CHECK_THAT(with([](json& d) { d.erase("layers"); }), Catch::Contains("missing field \"layers\""));
  CHECK_THAT(with([](json& d) { d["layers"][0]["type"] = "glow"; }), Catch::Contains("/layers/0/type") && Catch::Contains("unknown layer type 'glow'"));
  CHECK_THAT(with([](json& d) { d["layers"][0]["negative_slope"] = -1; }), Catch::Contains("/layers/0/negative_slope"));
  CHECK_THAT(with([](json& d) { d["layers"][0]["negative_slope"] = "big"; }), Catch::Contains("expected a number"));
  CHECK_THAT(with([](json& d) { d["layers"][1]["mask"] = {1, 1}; }), Catch::Contains("/layers/1/mask") && Catch::Contains("both 0s and 1s"));
  CHECK_THAT(with([](json& d) { d["layers"][1]["mask"] = {0.5, 1}; }), Catch::Contains("/layers/1/mask") && Catch::Contains("0 or 1"));
  CHECK_THAT(with([](json& d) { d["layers"][1]["mask"] = {1, 0, 1}; }), Catch::Contains("/layers/1/mask") && Catch::Contains("expected 2 numbers"));
  CHECK_THAT(with([](json& d) { d["layers"][1]["s_net"]["layers"][0]["weight"][3] = {1.0}; }),
             Catch::Contains("/layers/1/s_net/layers/0/weight/3"));
  CHECK_THAT(with([](json& d) { d["layers"][1]["s_net"]["layers"][1]["bias"] = {1.0}; }),
             Catch::Contains("/layers/1/s_net/layers/1/bias"));
  CHECK_THAT(with([](json& d) { d["layers"][1]["s_net"]["activation"] = "swish"; }), Catch::Contains("/layers/1/s_net/activation"));
  CHECK_THAT(with([](json& d) { d["layers"][2].erase("net"); }), Catch::Contains("/layers/2") && Catch::Contains("missing field"));
  CHECK_THAT(with([](json& d) { d["layers"][4]["w"] = {0.0, 0.0}; }), Catch::Contains("/layers/4/w") && Catch::Contains("norm"));
  CHECK_THAT(with([](json& d) { d["layers"][5]["alpha_raw"] = nullptr; }), Catch::Contains("/layers/5/alpha_raw"));
  CHECK_THAT(with([](json& d) { d["layers"][6]["perm"] = {0, 0}; }), Catch::Contains("/layers/6/perm"));
  // autoregressive, inverted and spline layers (7: MAF, 8: IAF, 9: NSF-AR, 10: NSF coupling)
  CHECK_THAT(with([](json& d) { d["layers"][7]["degrees"] = {1, 1}; }), Catch::Contains("/layers/7/degrees/1") && Catch::Contains("exactly once"));
  CHECK_THAT(with([](json& d) { d["layers"][7]["degrees"] = {1, 2, 3}; }), Catch::Contains("/layers/7/degrees"));
  CHECK_THAT(with([](json& d) { d["layers"][7]["hidden_degrees"][1][3] = 2; }), Catch::Contains("/layers/7/hidden_degrees/1/3") && Catch::Contains("[1, 1]"));
  CHECK_THAT(with([](json& d) { d["layers"][7]["hidden_degrees"][0] = {1, 1}; }), Catch::Contains("/layers/7/hidden_degrees/0") && Catch::Contains("one per hidden unit"));
  CHECK_THAT(with([](json& d) { d["layers"][7]["hidden_degrees"] = json::array(); }), Catch::Contains("/layers/7/hidden_degrees"));
  CHECK_THAT(with([](json& d) { d["layers"][7]["made"]["layers"][0]["weight"][0][1] = "nan"; }), Catch::Contains("/layers/7/made/layers/0/weight/0/1"));
  CHECK_THAT(with([](json& d) { d["layers"][7]["made"]["layers"][2]["bias"] = {0.0}; }), Catch::Contains("/layers/7/made/layers/2/bias"));
  CHECK_THAT(with([](json& d) { d["layers"][7]["context_dim"] = 3; }), Catch::Contains("/layers/7/made/layers/0/weight: expected rows of 5 inputs"));
  CHECK_THAT(with([](json& d) { d["layers"][7]["transformer"]["type"] = "cubic"; }), Catch::Contains("/layers/7/transformer/type"));
  CHECK_THAT(with([](json& d) { d["layers"][8].erase("layer"); }), Catch::Contains("/layers/8") && Catch::Contains("missing field \"layer\""));
  CHECK_THAT(with([](json& d) { d["layers"][8]["layer"]["type"] = "inverted"; }), Catch::Contains("/layers/8/layer") && Catch::Contains("inverted"));
  CHECK_THAT(with([](json& d) { d["layers"][8]["layer"]["degrees"] = {2, 0}; }), Catch::Contains("/layers/8/layer/degrees/1"));
  CHECK_THAT(with([](json& d) { d["layers"][9]["transformer"]["bins"] = 1; }), Catch::Contains("/layers/9/transformer/bins") && Catch::Contains("[2, 128]"));
  CHECK_THAT(with([](json& d) { d["layers"][9]["transformer"]["bins"] = 6; }), Catch::Contains("/layers/9/made"));  // 3·6−1 outputs per dimension expected
  CHECK_THAT(with([](json& d) { d["layers"][10]["bins"] = 1; }), Catch::Contains("/layers/10/bins"));
  CHECK_THAT(with([](json& d) { d["layers"][10]["bins"] = 2.5; }), Catch::Contains("/layers/10/bins"));
  CHECK_THAT(with([](json& d) { d["layers"][10]["tail_bound"] = -1.0; }), Catch::Contains("/layers/10/tail_bound"));
  CHECK_THAT(with([](json& d) { d["layers"][10]["tail_bound"] = "inf"; }), Catch::Contains("/layers/10/tail_bound"));
  CHECK_THAT(with([](json& d) { d["layers"][10]["mask"] = {0, 0}; }), Catch::Contains("/layers/10/mask"));
  CHECK_THAT(with([](json& d) { d["layers"][10]["net"]["layers"][0]["weight"][2] = {1.0, 2.0, 3.0}; }), Catch::Contains("/layers/10/net/layers/0/weight/2"));
  // the linear family (11: ActNorm, 12: LU linear, 13: dense linear)
  CHECK_THAT(with([](json& d) { d["layers"][11]["initialized"] = 1; }), Catch::Contains("/layers/11/initialized") && Catch::Contains("true or false"));
  CHECK_THAT(with([](json& d) { d["layers"][11]["log_scale"] = {0.0}; }), Catch::Contains("/layers/11/log_scale"));
  CHECK_THAT(with([](json& d) { d["layers"][11]["bias"][1] = "nan"; }), Catch::Contains("/layers/11/bias/1"));
  CHECK_THAT(with([](json& d) { d["layers"][12]["perm"] = {1, 1}; }), Catch::Contains("/layers/12/perm") && Catch::Contains("exactly once"));
  CHECK_THAT(with([](json& d) { d["layers"][12]["sign"][0] = 0.5; }), Catch::Contains("/layers/12/sign/0") && Catch::Contains("1 or -1"));
  CHECK_THAT(with([](json& d) { d["layers"][12]["lower"] = {{1.0, 0.0}}; }), Catch::Contains("/layers/12/lower") && Catch::Contains("2 rows"));
  CHECK_THAT(with([](json& d) { d["layers"][12]["upper"][0][1] = std::numeric_limits<double>::infinity(); }), Catch::Contains("/layers/12/upper"));
  CHECK_THAT(with([](json& d) { d["layers"][12]["log_abs_s"] = {0.0, "x"}; }), Catch::Contains("/layers/12/log_abs_s/1"));
  CHECK_THAT(with([](json& d) { d["layers"][13]["weight"] = {{1.0, 2.0}, {2.0, 4.0}}; }), Catch::Contains("/layers/13/weight") && Catch::Contains("singular"));
  CHECK_THAT(with([](json& d) { d["layers"][13]["weight"] = {{1.0, 2.0}, {2.0}}; }), Catch::Contains("/layers/13/weight/1"));
  // continuous flows (14: hyper_planar, dopri5, adjoint; 15: mlp, rk4, penalised)
  CHECK_THAT(with([](json& d) { d["layers"][14]["dynamics"]["type"] = "linear"; }), Catch::Contains("/layers/14/dynamics/type"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["dynamics"]["width"] = 0; }), Catch::Contains("/layers/14/dynamics/width"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["dynamics"]["width"] = 5; }), Catch::Contains("/layers/14/dynamics/net/layers/2/bias") && Catch::Contains("expected 35"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["dynamics"]["net"]["layers"][0]["weight"] = {{1.0}}; }), Catch::Contains("/layers/14/dynamics/net/layers/0/weight") && Catch::Contains("no inputs"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["dynamics"]["net"]["layers"][1]["time"][2] = "nan"; }), Catch::Contains("/layers/14/dynamics/net/layers/1/time/2"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["dynamics"]["net"]["activation"] = "relu"; }), Catch::Contains("/layers/14/dynamics/net/activation") && Catch::Contains("smooth"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["solver"]["rtol"] = -1e-5; }), Catch::Contains("/layers/14/solver") && Catch::Contains("tolerances"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["solver"]["rtol"] = 0.0; d["layers"][14]["solver"]["atol"] = 0.0; }), Catch::Contains("/layers/14/solver"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["solver"]["max_steps"] = 0; }), Catch::Contains("/layers/14/solver") && Catch::Contains("max_steps"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["solver"]["method"] = "euler"; }), Catch::Contains("/layers/14/solver/method"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["training"]["trace"] = "skilling"; }), Catch::Contains("/layers/14/training"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["training"]["kinetic"] = -1.0; }), Catch::Contains("/layers/14/training") && Catch::Contains("non-negative"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["duration"] = 0.0; }), Catch::Contains("/layers/14/duration"));
  CHECK_THAT(with([](json& d) { d["layers"][14]["context_dim"] = 2; }), Catch::Contains("/layers/14/dynamics/net/layers/0/weight"));
  CHECK_THAT(with([](json& d) { d["layers"][15]["solver"]["steps"] = 0; }), Catch::Contains("/layers/15/solver") && Catch::Contains("at least one step"));
  CHECK_THAT(with([](json& d) { d["layers"][15]["dynamics"]["net"]["layers"].erase(2); }), Catch::Contains("/layers/15/dynamics/net/layers/1/bias"));
  CHECK_THAT(with([](json& d) { d["layers"][15]["dynamics"]["net"]["layers"][2]["bias"] = {0.0, 0.0, 0.0}; }), Catch::Contains("/layers/15/dynamics/net/layers/2/bias"));
  // 16: batch norm
  CHECK_THAT(with([](json& d) { d["layers"][16]["variance"][1] = -0.5; }), Catch::Contains("/layers/16/variance/1") && Catch::Contains("non-negative"));
  CHECK_THAT(with([](json& d) { d["layers"][16]["epsilon"] = 0.0; }), Catch::Contains("/layers/16/epsilon"));
  CHECK_THAT(with([](json& d) { d["layers"][16]["mean"] = {0.0}; }), Catch::Contains("/layers/16/mean"));
  CHECK_THAT(with([](json& d) { d["layers"][16]["log_gamma"][0] = "nan"; }), Catch::Contains("/layers/16/log_gamma/0"));
  CHECK_THAT(with([](json& d) { d["layers"][16].erase("beta"); }), Catch::Contains("/layers/16") && Catch::Contains("beta"));
  // 17: subspace of k = 1 (planar, elementwise spline, LU), 18: subspace of k = 0
  CHECK_THAT(with([](json& d) { d["layers"][17]["active"] = 3; }), Catch::Contains("/layers/17/active") && Catch::Contains("[0, 2]"));
  CHECK_THAT(with([](json& d) { d["layers"][17]["active"] = -1; }), Catch::Contains("/layers/17/active"));
  CHECK_THAT(with([](json& d) { d["layers"][17]["active"] = 2; }), Catch::Contains("/layers/17/layers/0/w") && Catch::Contains("expected 2 numbers"));
  CHECK_THAT(with([](json& d) { d["layers"][17]["layers"][2]["perm"] = {1}; }), Catch::Contains("/layers/17/layers/2/perm"));
  CHECK_THAT(with([](json& d) { d["layers"][17]["layers"][1]["theta"] = {0.0}; }), Catch::Contains("/layers/17/layers/1/theta") && Catch::Contains("expected 11"));
  CHECK_THAT(with([](json& d) { d["layers"][17]["layers"][1]["bins"] = 3; }), Catch::Contains("/layers/17/layers/1/theta") && Catch::Contains("expected 8"));
  CHECK_THAT(with([](json& d) { d["layers"][17]["layers"][1]["theta"][4] = "nan"; }), Catch::Contains("/layers/17/layers/1/theta/4"));
  CHECK_THAT(with([](json& d) { d["layers"][17]["layers"][0]["type"] = "subspace"; }), Catch::Contains("/layers/17/layers/0/type") && Catch::Contains("cannot be"));
  CHECK_THAT(with([](json& d) { d["layers"][17]["layers"][0]["type"] = "inverted"; }), Catch::Contains("/layers/17/layers/0/type"));
  CHECK_THAT(with([](json& d) { d["layers"][17].erase("layers"); }), Catch::Contains("/layers/17") && Catch::Contains("layers"));
  CHECK_THAT(with([](json& d) { d["layers"][18]["layers"] = d["layers"][17]["layers"]; }), Catch::Contains("/layers/18/layers") && Catch::Contains("no inner layers"));
  CHECK_THAT(with([](json& d) { d["layers"][8]["layer"] = d["layers"][18]; }), Catch::Contains("/layers/8/layer") && Catch::Contains("subspace"));
  CHECK_THAT(with([](json& d) { d["preprocess"]["scale"] = {1.0, 0.0}; }), Catch::Contains("/preprocess/scale/1"));
  CHECK_THAT(with([](json& d) { d["preprocess"]["scale"] = {1.0, -2.0}; }), Catch::Contains("/preprocess/scale/1"));
  CHECK_THAT(with([](json& d) { d["base"]["type"] = "laplace"; }), Catch::Contains("/base/type"));
  CHECK_THAT(with([](json& d) { d = json::array(); }), Catch::Contains("expected an object"));
}

TEST_CASE("regressions found by fuzzing", "[io]") {
  // A number JSON accepts but a double cannot hold made nlohmann throw out_of_range, not parse_error.
  CHECK_THROWS_AS(parse_model_text("{\"dim\": 0.27E04653}", "overflow.json"), FormatError);
  CHECK_THROWS_WITH(parse_model_text("[1e999]", "overflow.json"), Catch::Contains("overflow.json") && Catch::Contains("not valid JSON"));
}

TEST_CASE("saving is atomic: a failed save leaves the old file alone", "[io]") {
  Random rng(5);
  const std::string path = "eigenflow_test_atomic.json";
  save_model(path, every_saveable_layer<double>(rng));
  const std::string before = read_text(path);
  FlowStack<double> unsaveable(2);
  unsaveable.append(UnregisteredLayer());
  CHECK_THROWS_WITH(save_model(path, unsaveable), Catch::Contains("my_own_layer"));
  CHECK(read_text(path) == before);
  CHECK_THROWS_AS(save_model("/nonexistent-dir/model.json", every_saveable_layer<double>(rng)), IoError);
  std::remove(path.c_str());
}

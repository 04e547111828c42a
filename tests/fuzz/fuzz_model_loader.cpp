// libFuzzer target: any bytes as a model file. Loading must either succeed
// or throw eigenflow::Error (FormatError with a JSON path); a loaded model is
// then evaluated, sampled (a conditional one at random contexts) and saved
// again, all without crashing.
#include <eigenflow/io/model_file.hpp>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const nlohmann::json document =
        eigenflow::parse_model_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    auto flow = eigenflow::model_from_json<double>(document);
    if (flow.dim() > 64 || flow.context_dim() > 64) return 0;  // keep evaluation cheap
    eigenflow::Random rng(1);
    const eigenflow::Matrix<double> x = rng.normal_matrix<double>(4, flow.dim());
    if (flow.context_dim() > 0) {  // a conditional model: with a context, one per point and one for all
      const eigenflow::Matrix<double> c = rng.normal_matrix<double>(4, flow.context_dim());
      (void)flow.log_prob(x, c);
      (void)flow.sample(4, eigenflow::Matrix<double>(c.topRows(1)), rng);
    } else {
      (void)flow.log_prob(x);
      (void)flow.sample(4, rng);
    }
    (void)eigenflow::model_to_json(flow).dump();
  } catch (const eigenflow::Error&) {
  }
  return 0;
}

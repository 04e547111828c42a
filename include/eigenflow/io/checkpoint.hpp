// Training checkpoints: the model, the optimizer's state and the training
// loop's state (random engine, step count, best parameters) in one JSON file,
// written atomically, so that a run killed at any moment resumes from its
// last checkpoint and ends bit-identical to an uninterrupted run.
//   { "format": "eigenflow.checkpoint", "version": 1, "config": {…},
//     "model": {eigenflow.model}, "optimizer": {"name", "steps", "state": [matrices]},
//     "trainer": {"epoch", "steps", "rng": {…}, "best_epoch", "best_score", "epochs_without_improvement", "best": [matrices],
//                  "average": [matrices] (parameter averaging; empty or absent when off)} }
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eigenflow/io/model_file.hpp"
#include "eigenflow/optim/optimizer.hpp"
#include "eigenflow/train/trainer.hpp"

namespace eigenflow {

namespace detail {

template <class S>
nlohmann::json matrices_to_json(const std::vector<Matrix<S>>& matrices) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& m : matrices) {
    nlohmann::json rows = nlohmann::json::array();
    for (Index i = 0; i < m.rows(); ++i) rows.push_back(to_json_array<S>(m.row(i)));
    out.push_back({{"rows", m.rows()}, {"cols", m.cols()}, {"values", rows}});
  }
  return out;
}

template <class S>
std::vector<Matrix<S>> matrices_from_json(const JsonReader& reader) {
  std::vector<Matrix<S>> out;
  for (std::size_t k = 0; k < reader.array_size(); ++k) {
    const JsonReader entry = reader.at(k);
    const long long rows = entry.field("rows").integer(), cols = entry.field("cols").integer();
    if (rows < 0 || cols < 0) entry.fail("negative shape");
    Matrix<S> m(static_cast<Index>(rows), static_cast<Index>(cols));
    const JsonReader values = entry.field("values");
    if (values.array_size() != static_cast<std::size_t>(rows)) values.fail("expected " + std::to_string(rows) + " rows");
    for (Index i = 0; i < m.rows(); ++i) m.row(i) = values.at(static_cast<std::size_t>(i)).row_vector<S>(m.cols());
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace detail

inline constexpr const char* checkpoint_format_name = "eigenflow.checkpoint";

/// Writes a checkpoint atomically. `config` describes the run (flags), so a
/// resume can refuse to continue a different run.
template <class S>
void save_checkpoint(const std::string& path, const nlohmann::json& config, const FlowStack<S>& flow,
                     const Optimizer<S>& optimizer, const TrainCheckpoint& trainer) {
  const Random::State& rng = trainer.rng;
  nlohmann::json document = {
      {"format", checkpoint_format_name},
      {"version", 1},
      {"config", config},
      {"model", model_to_json(flow)},
      {"optimizer", {{"name", optimizer.name()}, {"steps", optimizer.steps_taken()}, {"state", detail::matrices_to_json(optimizer.state())}}},
      {"trainer",
       {{"epoch", trainer.epoch},
        {"steps", trainer.steps},
        {"rng", {{"words", {rng.words[0], rng.words[1], rng.words[2], rng.words[3]}}, {"has_spare_normal", rng.has_spare_normal}, {"spare_normal", rng.spare_normal}}},
        {"best_epoch", trainer.best_epoch},
        {"best_score", trainer.best_score},
        {"epochs_without_improvement", trainer.epochs_without_improvement},
        {"best", detail::matrices_to_json(trainer.best)},
        {"average", detail::matrices_to_json(trainer.average)}}}};
  const std::string text = document.dump();
  write_file_atomically(path, [&](std::ostream& out) { out << text << '\n'; });
}

/// A checkpoint read back: the document's parts, validated.
struct LoadedCheckpoint {
  nlohmann::json config;
  nlohmann::json model;  ///< an eigenflow.model document
  std::string optimizer_name;
  long long optimizer_steps = 0;
  TrainCheckpoint trainer;
  nlohmann::json optimizer_state;  ///< matrices, read with optimizer_state_as<S>()

  template <class S>
  std::vector<Matrix<S>> optimizer_state_as() const {
    return detail::matrices_from_json<S>(detail::JsonReader(optimizer_state, "/optimizer/state"));
  }
};

inline LoadedCheckpoint load_checkpoint(const std::string& path) {
  const nlohmann::json document = read_model_document(path);
  try {
    const detail::JsonReader root(document, "");
    const detail::JsonReader format = root.field("format");
    if (format.string() != checkpoint_format_name) format.fail("not an eigenflow checkpoint");
    if (root.field("version").integer() != 1) root.field("version").fail("unsupported checkpoint version");
    LoadedCheckpoint out;
    out.config = root.field("config").node();
    out.model = root.field("model").node();
    const detail::JsonReader optimizer = root.field("optimizer");
    out.optimizer_name = optimizer.field("name").string();
    out.optimizer_steps = optimizer.field("steps").integer();
    out.optimizer_state = optimizer.field("state").node();
    const detail::JsonReader trainer = root.field("trainer");
    out.trainer.epoch = static_cast<Index>(trainer.field("epoch").integer());
    out.trainer.steps = trainer.field("steps").integer();
    const detail::JsonReader rng = trainer.field("rng");
    const detail::JsonReader words = rng.field("words");
    if (words.array_size() != 4) words.fail("expected 4 words");
    for (std::size_t k = 0; k < 4; ++k) {
      if (!words.at(k).node().is_number_unsigned()) words.at(k).fail("expected an unsigned integer");
      out.trainer.rng.words[k] = words.at(k).node().get<std::uint64_t>();
    }
    out.trainer.rng.has_spare_normal = rng.field("has_spare_normal").node().get<bool>();
    out.trainer.rng.spare_normal = rng.field("spare_normal").number();
    out.trainer.best_epoch = static_cast<Index>(trainer.field("best_epoch").integer());
    const nlohmann::json& best_score = trainer.field("best_score").node();
    out.trainer.best_score = best_score.is_number() ? best_score.get<double>() : std::numeric_limits<double>::quiet_NaN();
    out.trainer.epochs_without_improvement = static_cast<Index>(trainer.field("epochs_without_improvement").integer());
    out.trainer.best = detail::matrices_from_json<double>(trainer.field("best"));
    if (trainer.has("average")) out.trainer.average = detail::matrices_from_json<double>(trainer.field("average"));
    return out;
  } catch (const FormatError& e) {
    throw FormatError(path + ": " + e.what());
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": malformed checkpoint: " + e.what());
  }
}

}  // namespace eigenflow

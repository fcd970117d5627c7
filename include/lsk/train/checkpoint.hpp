// lsk/train/checkpoint.hpp: training checkpoints that a killed run resumes from
// to the same result.
//
// Layout of a checkpoint directory DIR:
//   DIR/latest                  the name of the newest complete checkpoint ("step-000120")
//   DIR/step-000120/config.json, model.safetensors   a Hugging Face checkpoint (loads in transformers)
//   DIR/step-000120/optimizer.safetensors            AdamW moments "m.<param>", "v.<param>" (F32)
//   DIR/step-000120/trainer.json                     step, optimizer step count, RNG state, metrics
// Atomicity: a checkpoint is written into a temporary sibling directory,
// fsync'ed file by file, renamed into place, and only then named in `latest`
// (itself replaced atomically). A crash at any point leaves `latest` naming a
// complete checkpoint (or no `latest` at all). Resuming reads `latest`.
// Exactness: f32 weights and moments are stored bit for bit, the RNG state as
// integers, so a resumed f32 run continues with identical numbers.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "lsk/core/rng.hpp"
#include "lsk/io/atomic_write.hpp"
#include "lsk/io/safetensors.hpp"
#include "lsk/model/hf_checkpoint.hpp"
#include "lsk/optim/adamw.hpp"

namespace lsk::train {

struct checkpoint_state {
  std::int64_t step = 0;  // optimizer steps completed
  std::int64_t optimizer_steps = 0;
  lsk::rng::state_type rng_state{};
  nlohmann::json extra = nlohmann::json::object();  // metrics, stage name, ...
};

inline std::string checkpoint_name(std::int64_t step) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "step-%06lld", static_cast<long long>(step));
  return buffer;
}

// Writes a checkpoint of (weights, optimizer, state) under root and points `latest` at it.
template <class Optimizer>
std::filesystem::path save_checkpoint(const std::filesystem::path& root, const model::hf_config& config,
                                      const model::llama_weights<float>& weights, Optimizer& optimizer,
                                      const checkpoint_state& state) {
  namespace fs = std::filesystem;
  fs::create_directories(root);
  const std::string name = checkpoint_name(state.step);
  const fs::path final_dir = root / name;
  const fs::path tmp_dir = root / (name + ".partial");
  fs::remove_all(tmp_dir);
  fs::create_directories(tmp_dir);
  model::save_hf_checkpoint(tmp_dir, config, weights);
  io::safetensors::writer moments;
  optimizer.for_each_moment([&](const std::string& pname, const tensor<float>& m, const tensor<float>& v) {
    tensor<float> copy;
    moments.add("m." + pname, on_host(m, copy).view());
    moments.add("v." + pname, on_host(v, copy).view());
  });
  moments.write(tmp_dir / "optimizer.safetensors");
  nlohmann::json j;
  j["step"] = state.step;
  j["optimizer_steps"] = state.optimizer_steps;
  j["rng"] = {{"state", state.rng_state.state},
              {"increment", state.rng_state.increment},
              {"spare", state.rng_state.spare},
              {"has_spare", state.rng_state.has_spare}};
  j["extra"] = state.extra;
  io::atomic_write(tmp_dir / "trainer.json", [&](io::atomic_file& f) { f.write(j.dump(1) + "\n"); });
  fs::remove_all(final_dir);
  fs::rename(tmp_dir, final_dir);
  io::atomic_write(root / "latest", [&](io::atomic_file& f) { f.write(name + "\n"); });
  return final_dir;
}

// The newest complete checkpoint under root, if any.
inline std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& root) {
  std::ifstream in(root / "latest");
  if (!in) return std::nullopt;
  std::string name;
  std::getline(in, name);
  const auto dir = root / name;
  if (name.empty() || !std::filesystem::exists(dir / "trainer.json")) {
    raise<format_error>((root / "latest").string(), ": names '", name, "', which is not a complete checkpoint");
  }
  return dir;
}

// Loads weights, optimizer moments and state from a checkpoint directory into
// existing (already registered) objects; shapes must match.
template <class Optimizer>
checkpoint_state load_checkpoint(const std::filesystem::path& dir, model::llama_weights<float>& weights,
                                 Optimizer& optimizer) {
  const auto ckpt = model::load_hf_checkpoint<float>(dir);
  weights.for_each([&](const std::string& name, tensor<float>& t) {
    const tensor<float>* src = nullptr;
    ckpt.weights.for_each([&](const std::string& n, const tensor<float>& s) {
      if (n == name) src = &s;
    });
    if (src == nullptr || !(src->extents() == t.extents())) {
      raise<format_error>(dir.string(), ": checkpoint tensor '", name, "' is missing or has another shape");
    }
    t.copy_from(*src);
  });
  const auto moments = io::safetensors::reader::open(dir / "optimizer.safetensors");
  optimizer.for_each_moment([&](const std::string& pname, tensor<float>& m, tensor<float>& v) {
    for (auto [prefix, dst] : {std::pair{"m.", &m}, std::pair{"v.", &v}}) {
      const auto t = moments.read<float>(prefix + pname);
      if (!(t.extents() == dst->extents())) {
        raise<format_error>(moments.source(), ": '", prefix, pname, "' is ", t.extents().str(), ", expected ",
                            dst->extents().str());
      }
      dst->copy_from(t);
    }
  });
  const nlohmann::json j = position::load_json_file(dir / "trainer.json");
  checkpoint_state s;
  try {
    s.step = j.at("step").get<std::int64_t>();
    s.optimizer_steps = j.at("optimizer_steps").get<std::int64_t>();
    const auto& r = j.at("rng");
    s.rng_state = {r.at("state").get<std::uint64_t>(), r.at("increment").get<std::uint64_t>(),
                   r.at("spare").get<double>(), r.at("has_spare").get<bool>()};
    if (j.contains("extra")) s.extra = j["extra"];
  } catch (const nlohmann::json::exception& e) {
    raise<format_error>((dir / "trainer.json").string(), ": ", e.what());
  }
  optimizer.set_steps_taken(s.optimizer_steps);
  return s;
}

}  // namespace lsk::train

// lsk/recipe/plan_data.hpp: the data of a stage plan, from the synthesizers of
// lsk/data/: each stage's mixture becomes one mixture_synthesizer whose
// samples are packed into the stage's batches.
//
// Sources (plan "data" entries; "config" holds the synthesizer's own JSON keys):
//   short, natural_long  random windows of corpus documents (cip_synthesizer
//                        in "long" mode, window "random"), at the stage's length
//   cip                  chunk-interleaved samples (cip_synthesizer, cip mode)
//   sft                  short chat tasks made from corpus sentences (sft_synthesizer)
//   synl                 synthetic lengthy tables (synl_synthesizer), target_tokens
//                        defaulting to half the stage's length (answers with worked steps
//                        take up to a few hundred tokens more)
// Every source gets the stage's length (seq_len + 1 tokens per sample: a row of
// inputs and its shifted targets) unless its config says otherwise, and a seed
// derived from the plan's.
// Batches: micro-batch k of step t packs (mode "whole": a sample never crosses
// a row; positions restart per sample) the samples from index
// (t * micro_batches + k) * rows * max_samples_per_row on, so every batch is a
// pure function of (t, k) and a resumed run sees the same data.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lsk/data/any_synthesizer.hpp"
#include "lsk/data/cip.hpp"
#include "lsk/data/packing.hpp"
#include "lsk/data/sft.hpp"
#include "lsk/data/synl.hpp"
#include "lsk/recipe/runner.hpp"

namespace lsk::recipe {

// What the synthesizers read: the training documents and their tokens.
struct plan_corpus {
  std::vector<data::document> documents;
  data::tokenized_corpus tokens;
};

// Samples packed into rows; see the header.
class synthesized_data : public stage_data {
 public:
  static constexpr std::uint64_t max_samples_per_row = 64;

  synthesized_data(std::shared_ptr<const data::mixture_synthesizer> mix, index_t seq_len, index_t rows,
                   index_t micro_batches, std::int32_t pad_id)
      : mix_(std::move(mix)), seq_len_(seq_len), rows_(rows), micro_batches_(micro_batches), pad_(pad_id) {}

  model::token_batch batch(std::int64_t step, index_t micro) override {
    const auto first = (static_cast<std::uint64_t>(step) * static_cast<std::uint64_t>(micro_batches_) +
                        static_cast<std::uint64_t>(micro)) *
                       static_cast<std::uint64_t>(rows_) * max_samples_per_row;
    auto view = std::views::iota(first, first + static_cast<std::uint64_t>(rows_) * max_samples_per_row) |
                std::views::transform([this](std::uint64_t i) { return mix_->generate(i); });
    data::packing_config pc;
    pc.seq_len = static_cast<std::size_t>(seq_len_);
    pc.batch_size = static_cast<std::size_t>(rows_);
    pc.mode = "whole";
    pc.positions = "sample";
    auto packer = data::make_packer(view, pc, pad_);
    auto packed = packer.next();
    if (!packed) raise<config_error>("synthesized_data: no samples for step ", step);
    return std::move(packed->batch);
  }

 private:
  std::shared_ptr<const data::mixture_synthesizer> mix_;
  index_t seq_len_, rows_, micro_batches_;
  std::int32_t pad_;
};

namespace detail {
inline nlohmann::json with_default(nlohmann::json j, const char* key, nlohmann::json value) {
  if (!j.contains(key)) j[key] = std::move(value);
  return j;
}
}  // namespace detail

// The synthesizer JSON of data entry `i` of `stage`: the entry's "config" with
// the stage's defaults filled in (seed, length, window, ...); see the header.
inline nlohmann::json source_config(const schedule::stage_plan& stage, std::size_t i, std::uint64_t seed) {
  const auto& entry = stage.data[i];
  const auto sample_len = static_cast<std::size_t>(stage.seq_len + 1);
  nlohmann::json cfg = detail::with_default(entry.config, "seed", seed * 31u + i);
  switch (entry.source) {
    case schedule::data_source::short_docs:
    case schedule::data_source::natural_long:
    case schedule::data_source::cip: {
      const bool interleave = entry.source == schedule::data_source::cip;
      cfg = detail::with_default(cfg, "seq_len", sample_len);
      cfg = detail::with_default(cfg, "window", "random");
      cfg = detail::with_default(cfg, "cip_ratio", interleave ? 1.0 : 0.0);
      cfg = detail::with_default(cfg, "long_ratio", interleave ? 0.0 : 1.0);
      if (!interleave) cfg = detail::with_default(cfg, "docs_per_sample", 1);  // windows of one document
      break;
    }
    case schedule::data_source::sft:
      break;
    case schedule::data_source::synl:
      cfg = detail::with_default(cfg, "target_tokens", static_cast<std::size_t>(stage.seq_len) / 2);
      break;
  }
  return cfg;
}

inline std::string source_config_path(const schedule::stage_plan& stage, std::size_t i) {
  return "stage '" + stage.name + "' data[" + std::to_string(i) + "].config";
}

// Parses and validates every data source's config of every stage (what the
// data factory would build), so that a bad key in a late stage fails before
// the first stage trains; throws config_error naming the stage, entry and key
// (after "`file`: " when a file is given).
inline void validate_plan_data(const schedule::recipe_plan& plan, const std::string& file = "") {
  for (const auto& stage : plan.stages) {
    for (std::size_t i = 0; i < stage.data.size(); ++i) {
      const nlohmann::json cfg = source_config(stage, i, 0);
      const std::string where = (file.empty() ? "" : file + ": ") + source_config_path(stage, i);
      switch (stage.data[i].source) {
        case schedule::data_source::short_docs:
        case schedule::data_source::natural_long:
        case schedule::data_source::cip:
          (void)data::cip_config::from_json(cfg, where);
          break;
        case schedule::data_source::sft:
          (void)data::sft_config::from_json(cfg, where);
          break;
        case schedule::data_source::synl:
          (void)data::synl_config::from_json(cfg, where);
          break;
      }
    }
  }
}

// A data_factory serving every source of a plan from `corpus` with tokenizer `tok`.
template <Tokenizer Tok>
data_factory make_plan_data(std::shared_ptr<const Tok> tok, std::shared_ptr<const plan_corpus> corpus) {
  return [tok, corpus](const schedule::stage_plan& stage, std::uint64_t seed) -> std::unique_ptr<stage_data> {
    std::vector<data::any_synthesizer> sources;
    std::vector<double> weights;
    for (std::size_t i = 0; i < stage.data.size(); ++i) {
      const nlohmann::json cfg = source_config(stage, i, seed);
      const std::string where = source_config_path(stage, i);
      switch (stage.data[i].source) {
        case schedule::data_source::short_docs:
        case schedule::data_source::natural_long:
        case schedule::data_source::cip: {
          auto s = std::make_shared<const data::cip_synthesizer>(
              corpus->tokens, data::cip_config::from_json(cfg, where), data::special_tokens::of(*tok));
          sources.emplace_back(std::shared_ptr<const data::cip_synthesizer>(s));
          break;
        }
        case schedule::data_source::sft: {
          auto s = std::make_shared<const data::sft_synthesizer<Tok>>(*tok, corpus->documents,
                                                                      data::sft_config::from_json(cfg, where));
          sources.emplace_back(std::shared_ptr<const data::sft_synthesizer<Tok>>(s));
          break;
        }
        case schedule::data_source::synl: {
          auto s = std::make_shared<const data::synl_synthesizer<Tok>>(*tok, data::synl_config::from_json(cfg, where));
          sources.emplace_back(std::shared_ptr<const data::synl_synthesizer<Tok>>(s));
          break;
        }
      }
      weights.push_back(stage.data[i].weight);
    }
    const std::int32_t pad = tok->pad_id() >= 0 ? tok->pad_id() : tok->eos_id();
    return std::make_unique<synthesized_data>(
        std::make_shared<const data::mixture_synthesizer>(std::move(sources), std::move(weights), seed), stage.seq_len,
        stage.sequences_per_step() / stage.micro_batches, stage.micro_batches, pad);
  };
}

}  // namespace lsk::recipe

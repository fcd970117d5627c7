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
// derived from the plan's. A stage with a seq_len_warmup gets one mixture per
// length it trains at, each source configured for that length.
// Batches: micro-batch k of step t packs (mode "whole": a sample never crosses
// a row; positions restart per sample) the samples from index
// (rows of the steps before t + k * rows) * max_samples_per_row on (without
// warmups: (t * micro_batches + k) * rows * ...), so every batch is a pure
// function of (t, k) and a resumed run sees the same data.
#pragma once

#include <algorithm>
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

// Samples packed into rows; see the header. One mixture per length the stage
// trains at (stage_plan::lengths(), shortest first).
class synthesized_data : public stage_data {
 public:
  static constexpr std::uint64_t max_samples_per_row = 64;

  synthesized_data(std::vector<std::shared_ptr<const data::mixture_synthesizer>> mixes, schedule::stage_plan stage,
                   std::int32_t pad_id)
      : mixes_(std::move(mixes)), stage_(std::move(stage)), lengths_(stage_.lengths()), pad_(pad_id) {
    if (mixes_.size() != lengths_.size()) {
      raise<config_error>("synthesized_data: ", mixes_.size(), " mixtures for ", lengths_.size(), " lengths");
    }
  }

  model::token_batch batch(std::int64_t step, index_t micro) override {
    const index_t length = stage_.seq_len_at(step);
    const index_t rows = stage_.sequences_at(step) / stage_.micro_batches;
    const auto first = (rows_before(step) + static_cast<std::uint64_t>(micro * rows)) * max_samples_per_row;
    const auto& mix =
        mixes_[static_cast<std::size_t>(std::find(lengths_.begin(), lengths_.end(), length) - lengths_.begin())];
    auto view = std::views::iota(first, first + static_cast<std::uint64_t>(rows) * max_samples_per_row) |
                std::views::transform([&mix](std::uint64_t i) { return mix->generate(i); });
    data::packing_config pc;
    pc.seq_len = static_cast<std::size_t>(length);
    pc.batch_size = static_cast<std::size_t>(rows);
    pc.mode = "whole";
    pc.positions = "sample";
    auto packer = data::make_packer(view, pc, pad_);
    auto packed = packer.next();
    if (!packed) raise<config_error>("synthesized_data: no samples for step ", step);
    return std::move(packed->batch);
  }

 private:
  // Rows of all steps before `step` (each step's rows take the next sample
  // indices; without warmups, step * sequences_per_step).
  std::uint64_t rows_before(std::int64_t step) const {
    const std::int64_t warm = std::min(step, std::max(stage_.seq_len_warmup.steps, stage_.batch_tokens_warmup.steps));
    std::uint64_t n = 0;
    for (std::int64_t t = 0; t < warm; ++t) n += static_cast<std::uint64_t>(stage_.sequences_at(t));
    return n + static_cast<std::uint64_t>(step - warm) * static_cast<std::uint64_t>(stage_.sequences_per_step());
  }

  std::vector<std::shared_ptr<const data::mixture_synthesizer>> mixes_;
  schedule::stage_plan stage_;
  std::vector<index_t> lengths_;
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
// `length`: the training length the source serves (0: the stage's seq_len).
inline nlohmann::json source_config(const schedule::stage_plan& stage, std::size_t i, std::uint64_t seed,
                                    index_t length = 0) {
  const auto& entry = stage.data[i];
  if (length == 0) length = stage.seq_len;
  const auto sample_len = static_cast<std::size_t>(length + 1);
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
      cfg = detail::with_default(cfg, "target_tokens", static_cast<std::size_t>(length) / 2);
      break;
  }
  return cfg;
}

// Where data entry `i` of `stage` is, in errors ("stage 'long' data[1].config";
// a warmup length other than the stage's: "stage 'long' (length 256) data[1].config").
inline std::string source_config_path(const schedule::stage_plan& stage, std::size_t i, index_t length = 0) {
  const std::string at = length != 0 && length != stage.seq_len ? " (length " + std::to_string(length) + ")" : "";
  return "stage '" + stage.name + "'" + at + " data[" + std::to_string(i) + "].config";
}

// Parses and validates every data source's config of every stage (what the
// data factory would build), so that a bad key in a late stage fails before
// the first stage trains; throws config_error naming the stage, entry and key
// (after "`file`: " when a file is given).
inline void validate_plan_data(const schedule::recipe_plan& plan, const std::string& file = "") {
  for (const auto& stage : plan.stages) {
    for (std::size_t i = 0; i < stage.data.size(); ++i) {
      for (index_t length : stage.lengths()) {
        const nlohmann::json cfg = source_config(stage, i, 0, length);
        const std::string where = (file.empty() ? "" : file + ": ") + source_config_path(stage, i, length);
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
}

// A data_factory serving every source of a plan from `corpus` with tokenizer `tok`.
template <Tokenizer Tok>
data_factory make_plan_data(std::shared_ptr<const Tok> tok, std::shared_ptr<const plan_corpus> corpus) {
  return [tok, corpus](const schedule::stage_plan& stage, std::uint64_t seed) -> std::unique_ptr<stage_data> {
    std::vector<std::shared_ptr<const data::mixture_synthesizer>> mixes;
    for (index_t length : stage.lengths()) {
      std::vector<data::any_synthesizer> sources;
      std::vector<double> weights;
      for (std::size_t i = 0; i < stage.data.size(); ++i) {
        const nlohmann::json cfg = source_config(stage, i, seed, length);
        const std::string where = source_config_path(stage, i, length);
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
            auto s =
                std::make_shared<const data::synl_synthesizer<Tok>>(*tok, data::synl_config::from_json(cfg, where));
            sources.emplace_back(std::shared_ptr<const data::synl_synthesizer<Tok>>(s));
            break;
          }
        }
        weights.push_back(stage.data[i].weight);
      }
      mixes.push_back(std::make_shared<const data::mixture_synthesizer>(std::move(sources), std::move(weights), seed));
    }
    const std::int32_t pad = tok->pad_id() >= 0 ? tok->pad_id() : tok->eos_id();
    return std::make_unique<synthesized_data>(std::move(mixes), stage, pad);
  };
}

}  // namespace lsk::recipe

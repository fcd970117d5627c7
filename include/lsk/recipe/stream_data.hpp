// lsk/recipe/stream_data.hpp: next-token batches cut from one long token stream.
//
// Sequence s of micro-batch k of step t starts at a position drawn from a
// generator seeded by (seed, t, k, s): a pure function of its arguments, so
// resumed runs see the same data. Every target is a real next token (the
// window holds seq_len + 1 tokens); positions are 0..seq_len-1. Built from a
// stage, it follows the stage's warmups (the length and sequences of each step).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "lsk/recipe/runner.hpp"

namespace lsk::recipe {

class stream_data : public stage_data {
 public:
  stream_data(std::shared_ptr<const std::vector<std::int32_t>> tokens, index_t seq_len, index_t sequences,
              std::uint64_t seed)
      : tokens_(std::move(tokens)), seq_len_(seq_len), sequences_(sequences), seed_(seed) {
    if (static_cast<index_t>(tokens_->size()) < seq_len + 2) {
      raise<config_error>("stream_data: ", tokens_->size(), " tokens cannot fill a sequence of ", seq_len);
    }
  }

  // Sequences of stage.seq_len_at(step) tokens, stage.sequences_at(step) / micro_batches per micro-batch.
  stream_data(std::shared_ptr<const std::vector<std::int32_t>> tokens, const schedule::stage_plan& stage,
              std::uint64_t seed)
      : stream_data(std::move(tokens), stage.seq_len, stage.sequences_per_step() / stage.micro_batches, seed) {
    stage_ = stage;
  }

  model::token_batch batch(std::int64_t step, index_t micro) override {
    const index_t len = stage_ ? stage_->seq_len_at(step) : seq_len_;
    const index_t rows = stage_ ? stage_->sequences_at(step) / stage_->micro_batches : sequences_;
    model::token_batch b(rows, len);
    rng g(seed_ ^ (static_cast<std::uint64_t>(step) * 0x9E3779B97F4A7C15ULL), static_cast<std::uint64_t>(micro));
    const auto span = static_cast<std::uint32_t>(static_cast<index_t>(tokens_->size()) - len - 1);
    for (index_t s = 0; s < rows; ++s) {
      const std::size_t start = g.below(span);
      b.set_sequence(s, std::span<const std::int32_t>(tokens_->data() + start, static_cast<std::size_t>(len + 1)));
    }
    return b;
  }

 private:
  std::shared_ptr<const std::vector<std::int32_t>> tokens_;
  index_t seq_len_, sequences_;
  std::uint64_t seed_;
  std::optional<schedule::stage_plan> stage_;
};

}  // namespace lsk::recipe

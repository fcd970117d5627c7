// lsk/data/sample.hpp: one synthesized training sample, as every synthesizer
// (CIP, SynL, needle, SFT) yields it and the packer consumes it.
//
// Layout: four parallel per-token arrays of equal length n.
//   tokens[t]     token id
//   loss_mask[t]  1 when token t is a prediction target, i.e. the loss counts
//                 predicting tokens[t] from tokens[0..t); 0 for prompts, padding
//                 and anything the model should only read. (The packer turns
//                 this into token_batch's mask over next-token targets:
//                 batch.loss_mask[t] = sample.loss_mask[t + 1].)
//   doc_ids[t]    which source document token t came from: a corpus document
//                 index for CIP and packed text, a per-sample counter for
//                 generated text; -1 for tokens of no document (a CIP
//                 sample's BOS/EOS, separators, padding).
//   positions[t]  the RoPE position (0..n-1 unless the producer resets them).
// For inspection the synthesizers also keep text: the prompt and the answer
// of question-answer samples (SynL, needle, SFT), or a decoded preview.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lsk/core/error.hpp"

namespace lsk::data {

struct sample {
  std::vector<std::int32_t> tokens;
  std::vector<std::uint8_t> loss_mask;
  std::vector<std::int32_t> doc_ids;
  std::vector<std::int32_t> positions;
  // What kind of sample this is ("cip", "long", "short", "synl", "needle", "sft").
  std::string kind;
  // Question-answer samples: the prompt and the exact answer, as text.
  std::string prompt, answer;

  std::size_t size() const { return tokens.size(); }

  // Appends tokens with one mask value and one document id; positions
  // continue from the last one (or start at 0).
  void append(std::span<const std::int32_t> ids, std::uint8_t mask, std::int32_t doc) {
    for (const std::int32_t id : ids) {
      positions.push_back(static_cast<std::int32_t>(tokens.size()));
      tokens.push_back(id);
      loss_mask.push_back(mask);
      doc_ids.push_back(doc);
    }
  }
  void append(std::int32_t id, std::uint8_t mask, std::int32_t doc) { append(std::span(&id, 1), mask, doc); }

  // Number of tokens with loss_mask != 0.
  std::size_t target_count() const {
    std::size_t n = 0;
    for (const auto m : loss_mask) n += m != 0;
    return n;
  }

  // Throws shape_error unless the four arrays have the same length.
  void check() const {
    if (loss_mask.size() != tokens.size() || doc_ids.size() != tokens.size() || positions.size() != tokens.size()) {
      raise<shape_error>("sample: tokens ", tokens.size(), ", loss_mask ", loss_mask.size(), ", doc_ids ",
                         doc_ids.size(), ", positions ", positions.size(), " differ in length");
    }
  }
};

}  // namespace lsk::data

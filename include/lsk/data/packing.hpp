// lsk/data/packing.hpp: packs a stream of samples into fixed-length training
// batches (lsk::model::token_batch) with document and segment ids.
//
// Rows: a row of seq_len inputs is made of seq_len + 1 stream items: inputs
// items[0..seq_len), targets items[1..seq_len]; the model's loss_mask[t] is the
// target item's sample mask (sample.loss_mask[t + 1]), cleared when the target
// belongs to another sample than the input and mask_cross_segment is set.
//   mode "split": samples are concatenated and cut into rows wherever the
//                 row ends; consecutive rows share one item (the last of a row
//                 is the first of the next) so every item is a target once.
//   mode "whole": a sample never crosses a row: when the next sample does not
//                 fit, the row is padded and closed; a sample longer than a
//                 row is cut to seq_len + 1 items (counted in stats().truncated).
// Padding items: the pad id, no loss, doc and segment -1.
// Positions: "row": 0..seq_len-1 in every row (classic packed pretraining);
// "sample": each sample's own positions (they restart at each sample, and at
// each document inside samples that reset them), so packed documents do not
// see each other's position range.
// Ids (tensors shaped like the batch's): doc_ids = the sample's document ids;
// segment_ids = the sample's number within its row (0, 1, ...), the unit an
// attention mask separates; -1 on padding.
// The last batch is completed with empty (fully masked) rows unless drop_last.
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

#include "lsk/core/error.hpp"
#include "lsk/core/tensor.hpp"
#include "lsk/data/json_config.hpp"
#include "lsk/data/sample.hpp"
#include "lsk/model/token_batch.hpp"

namespace lsk::data {

struct packing_config {
  std::size_t seq_len = 4096;     // inputs per row
  std::size_t batch_size = 1;     // rows per batch
  std::string mode = "split";     // "split" or "whole"
  std::string positions = "row";  // "row" or "sample"
  bool mask_cross_segment = true;
  bool drop_last = false;

  void validate(std::string_view where = "packing") const {
    json_config::require(seq_len >= 1, where, "seq_len", "must be at least 1");
    json_config::require(batch_size >= 1, where, "batch_size", "must be at least 1");
    json_config::require_choice(mode, where, "mode", {"split", "whole"});
    json_config::require_choice(positions, where, "positions", {"row", "sample"});
  }

  static packing_config from_json(const json_config::json& j, std::string_view where = "packing") {
    json_config::check_keys(j, where,
                            {"seq_len", "batch_size", "mode", "positions", "mask_cross_segment", "drop_last"});
    packing_config c;
    json_config::read(j, where, "seq_len", c.seq_len);
    json_config::read(j, where, "batch_size", c.batch_size);
    json_config::read(j, where, "mode", c.mode);
    json_config::read(j, where, "positions", c.positions);
    json_config::read(j, where, "mask_cross_segment", c.mask_cross_segment);
    json_config::read(j, where, "drop_last", c.drop_last);
    c.validate(where);
    return c;
  }
};

// A token_batch plus the per-token ids the model's batch does not carry.
struct packed_batch {
  model::token_batch batch;
  tensor<std::int32_t> doc_ids, segment_ids;  // (batch * seq_len), like batch.tokens
};

struct packing_stats {
  std::size_t samples = 0, batches = 0, rows = 0;
  std::size_t tokens = 0;     // sample tokens consumed
  std::size_t padding = 0;    // padding items placed in rows (inputs)
  std::size_t truncated = 0;  // samples cut in "whole" mode
};

// Pulls samples from [first, last) and yields packed batches.
template <std::input_iterator It, std::sentinel_for<It> Sent>
class packer {
 public:
  packer(It first, Sent last, packing_config config, std::int32_t pad_id)
      : it_(std::move(first)), end_(std::move(last)), config_(std::move(config)), pad_(pad_id) {
    config_.validate();
  }

  const packing_stats& stats() const { return stats_; }

  std::optional<packed_batch> next() {
    const auto rows = static_cast<index_t>(config_.batch_size), len = static_cast<index_t>(config_.seq_len);
    packed_batch out{model::token_batch(rows, len), tensor<std::int32_t>(shape{rows * len}, -1),
                     tensor<std::int32_t>(shape{rows * len}, -1)};
    index_t filled = 0;
    while (filled < rows) {
      if (!fill_row()) break;
      write_row(out, filled++);
    }
    if (filled == 0 || (filled < rows && config_.drop_last)) return std::nullopt;
    for (index_t b = filled; b < rows; ++b) {  // empty rows
      row_.assign(config_.seq_len + 1, pad_item(0));
      write_row(out, b);
      stats_.padding += config_.seq_len;
      --stats_.rows;
    }
    ++stats_.batches;
    return out;
  }

 private:
  struct item {
    std::int32_t token, doc, position;
    std::int64_t serial;  // the sample's number in the stream; -1 for padding
    std::uint8_t mask;
  };
  item pad_item(std::size_t t) const { return {pad_, -1, static_cast<std::int32_t>(t), -1, 0}; }

  bool pull() {
    if (it_ == end_) return false;
    sample s = *it_;
    ++it_;
    s.check();
    ++stats_.samples;
    stats_.tokens += s.size();
    current_ = std::move(s);
    cursor_ = 0;
    ++serial_;
    return true;
  }

  // Builds row_ (seq_len + 1 items); false when no new sample token is left.
  bool fill_row() {
    const std::size_t need = config_.seq_len + 1;
    const bool whole = config_.mode == "whole";
    row_.clear();
    if (!whole && carry_) {
      row_.push_back(*carry_);
      carry_.reset();
    }
    bool any_new = false;
    while (row_.size() < need) {
      if (!current_ || cursor_ >= current_->size()) {
        if (!pull()) break;
      }
      const sample& s = *current_;
      if (whole && cursor_ == 0 && !row_.empty() && row_.size() + s.size() > need) break;  // next row
      for (; cursor_ < s.size() && row_.size() < need; ++cursor_) {
        row_.push_back({s.tokens[cursor_], s.doc_ids[cursor_], s.positions[cursor_], serial_, s.loss_mask[cursor_]});
        any_new = true;
      }
      if (whole && cursor_ < s.size()) {  // longer than a row: cut
        ++stats_.truncated;
        cursor_ = s.size();
      }
    }
    if (!any_new) return false;
    if (!whole && row_.size() == need) carry_ = row_.back();
    for (std::size_t t = row_.size(); t < need; ++t) {
      row_.push_back(pad_item(t));
      ++stats_.padding;
    }
    ++stats_.rows;
    return true;
  }

  void write_row(packed_batch& out, index_t b) const {
    const auto len = static_cast<index_t>(config_.seq_len);
    const bool row_positions = config_.positions == "row";
    std::int32_t segment = -1;
    std::int64_t previous = -2;
    for (index_t t = 0; t < len; ++t) {
      const item& in = row_[static_cast<std::size_t>(t)];
      const item& target = row_[static_cast<std::size_t>(t + 1)];
      if (in.serial >= 0 && in.serial != previous) ++segment;
      previous = in.serial;
      const index_t k = b * len + t;
      out.batch.tokens(k) = in.token;
      out.batch.positions(k) = row_positions ? static_cast<std::int32_t>(t) : in.position;
      const bool cross = in.serial != target.serial;
      const bool counted = target.mask != 0 && in.serial >= 0 && !(cross && config_.mask_cross_segment);
      out.batch.loss_mask(k) = counted ? 1 : 0;
      out.batch.targets(k) = target.serial >= 0 ? target.token : -1;
      out.doc_ids(k) = in.doc;
      out.segment_ids(k) = in.serial >= 0 ? segment : -1;
    }
  }

  It it_;
  Sent end_;
  packing_config config_;
  std::int32_t pad_;
  packing_stats stats_;
  std::optional<sample> current_;
  std::size_t cursor_ = 0;
  std::vector<item> row_;
  std::optional<item> carry_;
  std::int64_t serial_ = -1;
};

// A packer over a range (which must outlive it).
template <std::ranges::input_range R>
auto make_packer(R& range, packing_config config, std::int32_t pad_id) {
  return packer<std::ranges::iterator_t<R>, std::ranges::sentinel_t<R>>(
      std::ranges::begin(range), std::ranges::end(range), std::move(config), pad_id);
}

// Packs every sample of `range`.
template <std::ranges::input_range R>
std::vector<packed_batch> pack_all(R&& range, const packing_config& config, std::int32_t pad_id) {
  auto p = make_packer(range, config, pad_id);
  std::vector<packed_batch> out;
  while (auto b = p.next()) out.push_back(std::move(*b));
  return out;
}

}  // namespace lsk::data

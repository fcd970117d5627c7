// lsk/schedule/stage_plan.hpp: the recipe's stages as data.
//
// A plan is JSON (read with nlohmann-json); every field is validated and an
// error names the key path (e.g. "plan.stages[1].lr.peak"). Schema:
// {
//   "name": "default", "seed": 1,
//   "model": { Hugging Face LlamaConfig fields (vocab_size is taken from the tokenizer when absent) },
//   "eval": { settings for the evaluation after each stage, read by the runner's caller },
//   "stages": [ {
//       "name": "pretrain",                 unique
//       "kind": "pretrain" | "sft",         sft: loss on answer tokens only
//       "seq_len": 128,                     training length of the stage
//       "rope": { "change": "none" | "ntk" | "base" | "linear" | "yarn",
//                 "target_length": 1024,    ntk / linear / yarn: the new context
//                 "theta": 500000 },        base: the new rope_theta (ABF)
//       "data": [ { "source": "short" | "natural_long" | "cip" | "sft" | "synl",
//                   "weight": 1.0, "config": { source-specific } } ],
//       "steps": 300,
//       "batch_tokens": 4096,               tokens per optimizer step (a multiple of seq_len)
//       "seq_len_warmup": { "start": 256, "steps": 60 },        optional, see below
//       "batch_tokens_warmup": { "start": 1024, "steps": 100 }, optional, see below
//       "micro_batches": 1,
//       "lr": { "schedule": "cosine", "peak": 3e-3, "min": 3e-4, "warmup": 20, "decay": 0 },
//       "weight_decay": 0.1, "max_grad_norm": 1.0,
//       "checkpoint_every": 100
//   } ]
// }
// Mixture weights are normalised per stage; the sources themselves are
// configured and validated by the data synthesizers (lsk/data/).
// Warmups (a sequence-length and a batch-size schedule inside a stage): the
// value doubles from "start" to the stage's seq_len (batch_tokens) in equal
// shares of the first "steps" steps, then stays there; start * 2^k must equal
// the final value. With seq_len_warmup the tokens per step stay batch_tokens
// (shorter sequences, more of them); with batch_tokens_warmup the length stays
// and the number of sequences grows; start must then be a multiple of
// seq_len * micro_batches. stage_plan::seq_len_at / batch_tokens_at (0-based
// step) give the values; data sources serve each length.
#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsk/core/error.hpp"
#include "lsk/core/shape.hpp"
#include "lsk/schedule/lr_schedules.hpp"

namespace lsk::schedule {

enum class stage_kind { pretrain, sft };
enum class rope_change { none, ntk, base, linear, yarn };
enum class data_source { short_docs, natural_long, cip, sft, synl };

constexpr std::string_view name(data_source s) {
  switch (s) {
    case data_source::short_docs:
      return "short";
    case data_source::natural_long:
      return "natural_long";
    case data_source::cip:
      return "cip";
    case data_source::sft:
      return "sft";
    case data_source::synl:
      return "synl";
  }
  return "?";
}
constexpr std::string_view name(rope_change c) {
  switch (c) {
    case rope_change::none:
      return "none";
    case rope_change::ntk:
      return "ntk";
    case rope_change::base:
      return "base";
    case rope_change::linear:
      return "linear";
    case rope_change::yarn:
      return "yarn";
  }
  return "?";
}

struct mixture_entry {
  data_source source = data_source::short_docs;
  double weight = 1.0;
  nlohmann::json config = nlohmann::json::object();
};

// A value that doubles from `start` to `end` in equal shares of the first `steps` steps.
struct doubling_warmup {
  index_t start = 0;  // 0: no warmup
  std::int64_t steps = 0;

  bool active() const { return start > 0 && steps > 0; }
  // The value at 0-based step `step` of a schedule ending at `end`.
  index_t at(std::int64_t step, index_t end) const {
    if (!active() || step >= steps) return end;
    int doublings = 0;
    for (index_t v = start; v < end; v *= 2) ++doublings;
    const auto phase = step * (doublings + 1) / steps;  // 0 .. doublings
    return start << phase;
  }
};

struct stage_plan {
  std::string name;
  stage_kind kind = stage_kind::pretrain;
  index_t seq_len = 128;
  rope_change rope = rope_change::none;
  index_t rope_target_length = 0;
  double rope_theta = 0;
  std::vector<mixture_entry> data;
  std::int64_t steps = 1;
  index_t batch_tokens = 0;
  index_t micro_batches = 1;
  lr_schedule lr;
  double weight_decay = 0.1;
  double max_grad_norm = 1.0;
  std::int64_t checkpoint_every = 0;
  doubling_warmup seq_len_warmup, batch_tokens_warmup;

  index_t sequences_per_step() const { return batch_tokens / seq_len; }
  // Length, tokens and sequences of 0-based step `step` (the warmups applied).
  index_t seq_len_at(std::int64_t step) const { return seq_len_warmup.at(step, seq_len); }
  index_t batch_tokens_at(std::int64_t step) const { return batch_tokens_warmup.at(step, batch_tokens); }
  index_t sequences_at(std::int64_t step) const { return batch_tokens_at(step) / seq_len_at(step); }
  // Every length the stage trains at, shortest first.
  std::vector<index_t> lengths() const {
    std::vector<index_t> out;
    for (index_t l = seq_len_warmup.active() ? seq_len_warmup.start : seq_len; l <= seq_len; l *= 2) out.push_back(l);
    return out;
  }
};

struct recipe_plan {
  std::string name = "plan";
  std::uint64_t seed = 1;
  nlohmann::json model = nlohmann::json::object();
  nlohmann::json eval = nlohmann::json::object();  // evaluation settings, read by the program that runs the plan
  std::vector<stage_plan> stages;
  nlohmann::json source = nlohmann::json::object();  // the plan as given (what a resumed run must match)
};

namespace detail {
// Typed access to a JSON object with errors that name the key path.
class plan_reader {
 public:
  plan_reader(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object()) raise<config_error>(path_, ": expected an object, got ", j_.type_name());
  }
  std::string key(std::string_view k) const { return path_ + "." + std::string(k); }
  bool has(std::string_view k) const { return j_.contains(std::string(k)) && !j_.at(std::string(k)).is_null(); }
  const nlohmann::json& at(std::string_view k) const {
    if (!has(k)) raise<config_error>(key(k), ": missing");
    return j_.at(std::string(k));
  }
  std::string string(std::string_view k, std::optional<std::string> fallback = std::nullopt) const {
    if (!has(k)) {
      if (fallback) return *fallback;
      raise<config_error>(key(k), ": missing");
    }
    const auto& v = at(k);
    if (!v.is_string()) raise<config_error>(key(k), ": expected a string, got ", v.dump());
    return v.get<std::string>();
  }
  double number(std::string_view k, std::optional<double> fallback = std::nullopt) const {
    if (!has(k)) {
      if (fallback) return *fallback;
      raise<config_error>(key(k), ": missing");
    }
    const auto& v = at(k);
    if (!v.is_number()) raise<config_error>(key(k), ": expected a number, got ", v.dump());
    return v.get<double>();
  }
  std::int64_t integer(std::string_view k, std::optional<std::int64_t> fallback = std::nullopt,
                       std::int64_t min = 0) const {
    std::int64_t out = 0;
    if (!has(k)) {
      if (!fallback) raise<config_error>(key(k), ": missing");
      out = *fallback;
    } else {
      const auto& v = at(k);
      if (!v.is_number_integer()) raise<config_error>(key(k), ": expected an integer, got ", v.dump());
      out = v.get<std::int64_t>();
    }
    if (out < min) raise<config_error>(key(k), ": must be >= ", min, ", got ", out);
    return out;
  }
  void reject_unknown(std::initializer_list<std::string_view> known) const {
    for (const auto& [k, v] : j_.items()) {
      bool ok = false;
      for (auto name : known) ok = ok || k == name;
      if (!ok) raise<config_error>(key(k), ": unknown key");
    }
  }

 private:
  const nlohmann::json& j_;
  std::string path_;
};

template <class E, std::size_t N>
E enum_from(const std::string& value, const std::string& where, const std::array<E, N>& all) {
  std::string options;
  for (E e : all) {
    if (value == name(e)) return e;
    options += (options.empty() ? "" : ", ") + std::string(name(e));
  }
  raise<config_error>(where, ": unknown value '", value, "' (", options, ")");
}
}  // namespace detail

inline stage_plan parse_stage(const nlohmann::json& j, const std::string& path) {
  const detail::plan_reader r(j, path);
  r.reject_unknown({"name", "kind", "seq_len", "rope", "data", "steps", "batch_tokens", "micro_batches", "lr",
                    "weight_decay", "max_grad_norm", "checkpoint_every", "seq_len_warmup", "batch_tokens_warmup"});
  stage_plan s;
  s.name = r.string("name");
  const std::string kind = r.string("kind", "pretrain");
  if (kind != "pretrain" && kind != "sft")
    raise<config_error>(r.key("kind"), ": unknown value '", kind, "' (pretrain, sft)");
  s.kind = kind == "sft" ? stage_kind::sft : stage_kind::pretrain;
  s.seq_len = r.integer("seq_len", std::nullopt, 2);
  if (r.has("rope")) {
    const detail::plan_reader rope(r.at("rope"), r.key("rope"));
    rope.reject_unknown({"change", "target_length", "theta"});
    s.rope = detail::enum_from(
        rope.string("change", "none"), rope.key("change"),
        std::array{rope_change::none, rope_change::ntk, rope_change::base, rope_change::linear, rope_change::yarn});
    if (s.rope == rope_change::base) s.rope_theta = rope.number("theta");
    if (s.rope == rope_change::base && !(s.rope_theta > 0)) raise<config_error>(rope.key("theta"), ": must be > 0");
    if (s.rope == rope_change::ntk || s.rope == rope_change::linear || s.rope == rope_change::yarn) {
      s.rope_target_length = rope.integer("target_length", std::nullopt, 1);
    }
  }
  const auto& data = r.at("data");
  if (!data.is_array() || data.empty()) raise<config_error>(r.key("data"), ": expected a non-empty array of sources");
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::string p = r.key("data") + "[" + std::to_string(i) + "]";
    const detail::plan_reader d(data[i], p);
    d.reject_unknown({"source", "weight", "config"});
    mixture_entry e;
    e.source = detail::enum_from(d.string("source"), d.key("source"),
                                 std::array{data_source::short_docs, data_source::natural_long, data_source::cip,
                                            data_source::sft, data_source::synl});
    e.weight = d.number("weight", 1.0);
    if (!(e.weight > 0)) raise<config_error>(d.key("weight"), ": must be > 0, got ", e.weight);
    if (d.has("config")) {
      e.config = d.at("config");
      if (!e.config.is_object()) raise<config_error>(d.key("config"), ": expected an object");
    }
    s.data.push_back(std::move(e));
  }
  s.steps = r.integer("steps", std::nullopt, 1);
  s.batch_tokens = r.integer("batch_tokens", s.seq_len, 1);
  if (s.batch_tokens % s.seq_len != 0) {
    raise<config_error>(r.key("batch_tokens"), ": ", s.batch_tokens, " is not a multiple of seq_len ", s.seq_len);
  }
  s.micro_batches = r.integer("micro_batches", 1, 1);
  if (s.sequences_per_step() % s.micro_batches != 0) {
    raise<config_error>(r.key("micro_batches"), ": ", s.micro_batches, " does not divide the ", s.sequences_per_step(),
                        " sequences of a step");
  }
  // Warmups: start * 2^k == the final value, steps within the stage.
  const auto warmup = [&](const char* key, index_t end, index_t start_multiple, std::int64_t min_start) {
    doubling_warmup w;
    if (!r.has(key)) return w;
    const detail::plan_reader wr(r.at(key), r.key(key));
    wr.reject_unknown({"start", "steps"});
    w.start = wr.integer("start", std::nullopt, min_start);
    w.steps = wr.integer("steps", std::nullopt, 1);
    index_t v = w.start;
    while (v < end) v *= 2;
    if (v != end || w.start % start_multiple != 0) {
      raise<config_error>(wr.key("start"), ": ", w.start, " must double to ", end, " exactly (", end, " / 2^k)",
                          start_multiple > 1 ? " and be a multiple of " + std::to_string(start_multiple) : "");
    }
    if (w.steps > s.steps) {
      raise<config_error>(wr.key("steps"), ": ", w.steps, " is more than the stage's ", s.steps, " steps");
    }
    return w;
  };
  s.seq_len_warmup = warmup("seq_len_warmup", s.seq_len, 1, 2);
  s.batch_tokens_warmup = warmup("batch_tokens_warmup", s.batch_tokens, s.seq_len * s.micro_batches, 1);
  const detail::plan_reader lr(r.at("lr"), r.key("lr"));
  lr.reject_unknown({"schedule", "peak", "min", "warmup", "decay"});
  const lr_shape shape = lr_shape_from_name(lr.string("schedule", "cosine"), lr.key("schedule"));
  try {
    s.lr = lr_schedule(shape, lr.number("peak"), s.steps, lr.integer("warmup", 0), lr.number("min", 0.0),
                       lr.integer("decay", 0));
  } catch (const config_error& e) {
    raise<config_error>(lr.key("schedule"), ": ", e.what());
  }
  s.weight_decay = r.number("weight_decay", 0.1);
  if (!(s.weight_decay >= 0)) raise<config_error>(r.key("weight_decay"), ": must be >= 0");
  s.max_grad_norm = r.number("max_grad_norm", 1.0);
  s.checkpoint_every = r.integer("checkpoint_every", 0);
  return s;
}

inline recipe_plan parse_plan(const nlohmann::json& j, const std::string& path = "plan") {
  const detail::plan_reader r(j, path);
  r.reject_unknown({"name", "seed", "model", "eval", "stages", "comment"});
  recipe_plan p;
  p.source = j;
  p.name = r.string("name", "plan");
  p.seed = static_cast<std::uint64_t>(r.integer("seed", 1));
  if (r.has("model")) {
    p.model = r.at("model");
    if (!p.model.is_object()) raise<config_error>(r.key("model"), ": expected an object");
  }
  if (r.has("eval")) {
    p.eval = r.at("eval");
    if (!p.eval.is_object()) raise<config_error>(r.key("eval"), ": expected an object");
  }
  const auto& stages = r.at("stages");
  if (!stages.is_array() || stages.empty()) raise<config_error>(r.key("stages"), ": expected a non-empty array");
  std::set<std::string> names;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    p.stages.push_back(parse_stage(stages[i], r.key("stages") + "[" + std::to_string(i) + "]"));
    if (!names.insert(p.stages.back().name).second) {
      raise<config_error>(r.key("stages"), "[", i, "].name: duplicate stage name '", p.stages.back().name, "'");
    }
  }
  return p;
}

}  // namespace lsk::schedule

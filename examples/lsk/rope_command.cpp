// lsk rope: the inverse frequencies and the attention factor of a RoPE
// configuration, as Hugging Face transformers computes them (lsk/position/).
//
//   lsk rope --config config.json [--seq-len N]
//   lsk rope --head-dim 128 --theta 500000 --type llama3 --factor 8 ...
//   lsk rope --config config.json --with-ntk-scaling 32768 --save config.json
//
// Output: rotary_dim / 2 lines of inv_freq (pair 0 first), then one line with
// the attention factor, each printed with %.17g (round-trips a double);
// --only picks one of the two. Flags override the values read from --config.
// --with-base / --with-ntk-scaling change the encoding first (the stage-1
// change of the recipe) and --save records the result in a config.json.
#include "rope_command.hpp"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "lsk/position.hpp"

namespace {
namespace pos = lsk::position;

struct rope_options {
  std::string config_path, type, only, save_path, convention;
  double theta = 0, partial_rotary_factor = 0, factor = 0, attention_factor = 0, beta_fast = 0, beta_slow = 0,
         mscale = 0, mscale_all_dim = 0, low_freq_factor = 0, high_freq_factor = 0, with_base = 0;
  lsk::index_t head_dim = 0, max_position_embeddings = 0, original_max_position_embeddings = 0, seq_len = 0,
               with_ntk_scaling = 0;
  bool truncate = true;
};

struct rope_flags {
  CLI::Option *type, *theta, *head_dim, *partial, *max_pos, *factor, *original, *attention, *beta_fast, *beta_slow,
      *mscale, *mscale_all_dim, *truncate, *low, *high, *with_base, *with_ntk, *convention;
};

void print(double v) { std::printf("%.17g\n", v); }

void run_rope(const rope_options& o, const rope_flags& f) {
  pos::rope_config c;
  if (!o.config_path.empty()) {
    c = pos::rope_config_from_json(pos::load_json_file(o.config_path));
  }
  if (f.type->count()) {
    const auto s = pos::rope_scaling_from_name(o.type);
    if (!s) lsk::raise<lsk::config_error>("--type: unknown rope_type '", o.type, "'");
    c.scaling = *s;
  }
  if (f.theta->count()) c.theta = o.theta;
  if (f.head_dim->count()) c.head_dim = o.head_dim;
  if (f.partial->count()) c.partial_rotary_factor = o.partial_rotary_factor;
  if (f.max_pos->count()) c.max_position_embeddings = o.max_position_embeddings;
  if (f.factor->count()) c.factor = o.factor;
  if (f.original->count()) c.original_max_position_embeddings = o.original_max_position_embeddings;
  if (f.attention->count()) c.attention_factor = o.attention_factor;
  if (f.beta_fast->count()) c.beta_fast = o.beta_fast;
  if (f.beta_slow->count()) c.beta_slow = o.beta_slow;
  if (f.mscale->count()) c.mscale = o.mscale;
  if (f.mscale_all_dim->count()) c.mscale_all_dim = o.mscale_all_dim;
  if (f.truncate->count()) c.truncate = o.truncate;
  if (f.low->count()) c.low_freq_factor = o.low_freq_factor;
  if (f.high->count()) c.high_freq_factor = o.high_freq_factor;
  if (c.head_dim <= 0) lsk::raise<lsk::config_error>("the head dimension is not known: give --config or --head-dim");
  if (f.with_base->count()) c = pos::with_base(c, o.with_base);
  if (f.with_ntk->count()) c = pos::with_ntk_scaling(c, o.with_ntk_scaling);

  const pos::rope r(c);  // validates
  if (!o.save_path.empty()) {
    std::optional<pos::rope_convention> conv;
    if (f.convention->count()) {
      conv =
          o.convention == "rope_scaling" ? pos::rope_convention::rope_scaling : pos::rope_convention::rope_parameters;
    }
    pos::save_rope_config(o.save_path, c, conv);
  }
  if (o.only.empty() || o.only == "inv_freq") {
    for (double v : r.inv_freq(o.seq_len)) print(v);
  }
  if (o.only.empty() || o.only == "attention_factor") print(r.attention_factor());
}
}  // namespace

void add_rope_command(CLI::App& app) {
  auto o = std::make_shared<rope_options>();
  auto f = std::make_shared<rope_flags>();
  CLI::App* cmd =
      app.add_subcommand("rope", "Print inv_freq (one per line) and then the attention factor of a RoPE configuration");
  cmd->add_option("--config", o->config_path, "Hugging Face config.json (rope_scaling or rope_parameters convention)")
      ->check(CLI::ExistingFile);
  f->type = cmd->add_option("--type", o->type, "rope_type: default, linear, dynamic, yarn, longrope, llama3");
  f->theta = cmd->add_option("--theta", o->theta, "rope_theta, the base");
  f->head_dim = cmd->add_option("--head-dim", o->head_dim, "head dimension");
  f->partial = cmd->add_option("--partial-rotary-factor", o->partial_rotary_factor, "fraction of head_dim rotated");
  f->max_pos = cmd->add_option("--max-position-embeddings", o->max_position_embeddings, "max_position_embeddings");
  f->factor = cmd->add_option("--factor", o->factor, "scaling factor");
  f->original = cmd->add_option("--original-max-position-embeddings", o->original_max_position_embeddings,
                                "pretraining length (yarn, longrope, llama3)");
  f->attention = cmd->add_option("--attention-factor", o->attention_factor, "attention factor (yarn, longrope)");
  f->beta_fast = cmd->add_option("--beta-fast", o->beta_fast, "yarn beta_fast (32)");
  f->beta_slow = cmd->add_option("--beta-slow", o->beta_slow, "yarn beta_slow (1)");
  f->mscale = cmd->add_option("--mscale", o->mscale, "yarn mscale");
  f->mscale_all_dim = cmd->add_option("--mscale-all-dim", o->mscale_all_dim, "yarn mscale_all_dim");
  f->truncate = cmd->add_option("--truncate", o->truncate, "yarn truncate (true)");
  f->low = cmd->add_option("--low-freq-factor", o->low_freq_factor, "llama3 low_freq_factor");
  f->high = cmd->add_option("--high-freq-factor", o->high_freq_factor, "llama3 high_freq_factor");
  cmd->add_option("--seq-len", o->seq_len, "current sequence length (dynamic, longrope); 0: the initial values")
      ->check(CLI::NonNegativeNumber);
  f->with_base = cmd->add_option("--with-base", o->with_base, "first change the base to this value (ABF)");
  f->with_ntk = cmd->add_option("--with-ntk-scaling", o->with_ntk_scaling,
                                "first apply static NTK-aware scaling to this target length");
  cmd->add_option("--save", o->save_path, "write the resulting RoPE settings into this config.json (atomically)");
  f->convention = cmd->add_option("--convention", o->convention, "convention for --save (default: the file's)")
                      ->check(CLI::IsMember({"rope_scaling", "rope_parameters"}));
  cmd->add_option("--only", o->only, "print only inv_freq or only attention_factor")
      ->check(CLI::IsMember({"inv_freq", "attention_factor"}));
  cmd->callback([o, f] { run_rope(*o, *f); });
}

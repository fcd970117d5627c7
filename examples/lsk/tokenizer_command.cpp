// lsk tokenizer: trains a SentencePiece BPE model on a corpus with the
// SentencePiece trainer library (lsk/data/sentencepiece_trainer.hpp).
//
//   lsk tokenizer --corpus DIR|FILE.jsonl --out FILE.model
//                 [--config FILE.json] [--vocab-size N] [--seed S]
//
// --config holds a sentencepiece_train_config object (vocab_size, seed,
// byte_fallback, split_digits, ...; unknown keys are errors); --vocab-size
// and --seed override it. Defaults: BPE, 8000 pieces, byte fallback, split
// digits, seed 1234, one thread. The model is written atomically; stderr gets
// the training time and the corpus's bytes per token under the new model.
#include "tokenizer_command.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "lsk/core/error.hpp"
#include "lsk/data/corpus.hpp"
#if defined(LSK_HAS_SENTENCEPIECE_TRAINER)
#include "lsk/data/sentencepiece_tokenizer.hpp"
#include "lsk/data/sentencepiece_trainer.hpp"
#endif

namespace {
struct tokenizer_options {
  std::string corpus, out, config;
  std::size_t vocab_size = 0;
  std::uint32_t seed = 0;
  bool has_seed = false;
};

void run_tokenizer(const tokenizer_options& o, bool seed_given) {
#if defined(LSK_HAS_SENTENCEPIECE_TRAINER)
  namespace data = lsk::data;
  data::sentencepiece_train_config c;
  if (!o.config.empty()) {
    std::ifstream in(o.config);
    if (!in) lsk::raise<lsk::io_error>("--config: cannot open '", o.config, "'");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& e) {
      lsk::raise<lsk::format_error>(o.config, ": not valid JSON: ", e.what());
    }
    c = data::sentencepiece_train_config::from_json(j);
  }
  if (o.vocab_size) c.vocab_size = o.vocab_size;
  if (seed_given) c.seed = o.seed;
  const auto docs = data::read_corpus(o.corpus);
  const auto start = std::chrono::steady_clock::now();
  const std::string model = data::train_sentencepiece(docs, c);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  lsk::io::atomic_write(o.out, std::as_bytes(std::span<const char>(model.data(), model.size())));
  const auto tok = data::sentencepiece_tokenizer::from_serialized(model, o.out);
  std::size_t bytes = 0, tokens = 0;
  for (const auto& d : docs) {
    bytes += d.text.size();
    tokens += tok.encode(d.text).size();
  }
  std::fprintf(stderr,
               "lsk tokenizer: %zu documents, %zu bytes; %d pieces trained in %.1f s; %.2f bytes/token; wrote %s\n",
               docs.size(), bytes, tok.vocab_size(), secs,
               tokens ? static_cast<double>(bytes) / static_cast<double>(tokens) : 0.0, o.out.c_str());
#else
  (void)o;
  (void)seed_given;
  lsk::raise<lsk::config_error>("lsk tokenizer: this lsk was built without the SentencePiece trainer library");
#endif
}
}  // namespace

void add_tokenizer_command(CLI::App& app) {
  auto opts = std::make_shared<tokenizer_options>();
  CLI::App* cmd = app.add_subcommand("tokenizer", "Train a SentencePiece BPE tokenizer on a corpus");
  cmd->add_option("--corpus", opts->corpus, "directory of .txt files or a .jsonl file")->required();
  cmd->add_option("--out", opts->out, "the .model file to write")->required();
  cmd->add_option("--config", opts->config, "JSON sentencepiece_train_config");
  cmd->add_option("--vocab-size", opts->vocab_size, "number of pieces (default 8000)");
  auto* seed = cmd->add_option("--seed", opts->seed, "random seed (default 1234)");
  cmd->callback([opts, seed] { run_tokenizer(*opts, seed->count() > 0); });
}

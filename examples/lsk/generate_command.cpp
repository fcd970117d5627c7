// lsk generate --model PATH --prompt TEXT [--tokenizer PATH] [--max-new N]
//              [--temperature T] [--top-k K] [--top-p P] [--seed S]
// Prints the generated token ids on one line and the text (prompt and
// continuation) on the next. The prompt is BOS followed by its tokens.
#include "generate_command.hpp"

#include <cstdio>
#include <memory>
#include <string>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/model/generate.hpp"
#include "model_loading.hpp"

namespace {
struct generate_args {
  std::string model, tokenizer, prompt;
  lsk::index_t max_new = 64;
  double temperature = 0.0, top_p = 1.0;
  int top_k = 0;
  std::uint64_t seed = 42;
};

void run_generate(const generate_args& a) {
  const std::filesystem::path model_path(a.model);
  const lsk::cli::text_codec codec(lsk::cli::find_tokenizer(model_path, a.tokenizer));
  auto ck = lsk::cli::load_checkpoint(model_path);
  std::vector<std::int32_t> prompt{ck.config.model.bos_token_id};
  for (std::int32_t id : codec.encode(a.prompt)) prompt.push_back(id);
  const lsk::index_t rows = static_cast<lsk::index_t>(prompt.size()) + a.max_new;
  auto m = lsk::cli::make_model(std::move(ck), rows);
  lsk::backends::cpu be;
  lsk::rng g(a.seed);
  lsk::model::generation_options options;
  options.max_new_tokens = a.max_new;
  options.sampling = {a.temperature, a.top_k, a.top_p};
  const auto ids = lsk::model::generate(be, m, prompt, options, g);
  std::string line;
  for (std::size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
  std::vector<std::int32_t> all(prompt.begin() + 1, prompt.end());
  all.insert(all.end(), ids.begin(), ids.end());
  std::printf("%s\n%s\n", line.c_str(), codec.decode(all).c_str());
}
}  // namespace

void add_generate_command(CLI::App& app) {
  auto args = std::make_shared<generate_args>();
  CLI::App* cmd = app.add_subcommand("generate", "Continue a prompt with a model");
  cmd->add_option("--model", args->model, "Hugging Face directory or llama2.c .bin file")->required();
  cmd->add_option("--prompt", args->prompt, "text to continue (empty: start from BOS)");
  cmd->add_option("--tokenizer", args->tokenizer, "SentencePiece .model (default: beside the model)");
  cmd->add_option("--max-new", args->max_new, "tokens to generate")->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", args->temperature, "0: greedy")->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-k", args->top_k, "keep the k most likely tokens (0: all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", args->top_p, "nucleus probability mass")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", args->seed, "sampling seed");
  cmd->callback([args] { run_generate(*args); });
}

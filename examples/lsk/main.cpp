// lsk: the command-line program. Each subcommand lives in its own file
// (rope_command.cpp, ...) and registers itself with add_<name>_command(app);
// add a new one by writing <name>_command.{hpp,cpp}, listing the .cpp in
// CMakeLists.txt and calling its add_ function below.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "convert_command.hpp"
#include "eval_command.hpp"
#include "generate_command.hpp"
#include "lsk/core/error.hpp"
#include "rope_command.hpp"
#include "synth_command.hpp"
#include "tokenizer_command.hpp"
#include "train_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"lsk: long-context training recipes for Llama-style models"};
  app.require_subcommand(1);
  add_rope_command(app);
  add_generate_command(app);
  add_convert_command(app);
  add_train_command(app);
  add_synth_command(app);
  add_tokenizer_command(app);
  add_eval_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const lsk::error& e) {
    std::fprintf(stderr, "lsk: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

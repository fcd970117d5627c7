// lsk eval needle|synl|ppl: evaluate a saved model (lsk/eval/).
#pragma once

#include <CLI/CLI.hpp>

void add_eval_command(CLI::App& app);

// lsk generate: continue a prompt with a model (greedy or sampled).
#pragma once

#include <CLI/CLI.hpp>

void add_generate_command(CLI::App& app);

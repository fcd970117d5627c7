// lsk rope: print a RoPE configuration's inverse frequencies and attention factor.
#pragma once

#include <CLI/CLI.hpp>

// Adds the `rope` subcommand to app.
void add_rope_command(CLI::App& app);

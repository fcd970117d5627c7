// lsk synth: generate CIP, SynL, needle or SFT samples as JSON Lines.
#pragma once

#include <CLI/CLI.hpp>

// Adds the `synth` subcommand to app.
void add_synth_command(CLI::App& app);

// lsk convert: a llama2.c checkpoint to a Hugging Face directory.
#pragma once

#include <CLI/CLI.hpp>

void add_convert_command(CLI::App& app);

// lsk tokenizer: train a SentencePiece BPE tokenizer on a corpus.
#pragma once

#include <CLI/CLI.hpp>

// Adds the `tokenizer` subcommand to app.
void add_tokenizer_command(CLI::App& app);

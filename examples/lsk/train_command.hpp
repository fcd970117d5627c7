// lsk train: run a stage plan (lsk/schedule/stage_plan.hpp) on the cpu backend.
#pragma once

#include <CLI/CLI.hpp>

void add_train_command(CLI::App& app);

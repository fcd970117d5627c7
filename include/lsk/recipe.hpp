// lsk/recipe.hpp: everything a user needs to train on the CPU, in one include.
#pragma once

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/backends/reference/backend.hpp"
#include "lsk/concepts/backend.hpp"
#include "lsk/core.hpp"
#include "lsk/data.hpp"
#include "lsk/io.hpp"
#include "lsk/ops.hpp"
#include "lsk/position.hpp"

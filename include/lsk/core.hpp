// lsk/core.hpp: tensors, dtypes, errors and the random number generator.
#pragma once

#include "lsk/config.hpp"
#include "lsk/core/bf16.hpp"
#include "lsk/core/dtype.hpp"
#include "lsk/core/error.hpp"
#include "lsk/core/rng.hpp"
#include "lsk/core/shape.hpp"
#include "lsk/core/tensor.hpp"
#include "lsk/core/tensor_view.hpp"

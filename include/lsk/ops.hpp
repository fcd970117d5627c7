// lsk/ops.hpp: every op, as free functions that check shapes and dispatch to a backend.
#pragma once

#include "lsk/ops/activation.hpp"
#include "lsk/ops/adamw_update.hpp"
#include "lsk/ops/cross_entropy.hpp"
#include "lsk/ops/elementwise.hpp"
#include "lsk/ops/embedding.hpp"
#include "lsk/ops/gemm_operand_reuse.hpp"
#include "lsk/ops/linear.hpp"
#include "lsk/ops/matmul.hpp"
#include "lsk/ops/reduction.hpp"
#include "lsk/ops/rmsnorm.hpp"
#include "lsk/ops/rope.hpp"
#include "lsk/ops/softmax.hpp"

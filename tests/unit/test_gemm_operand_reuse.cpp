// Scopes of gemm operand reuse (lsk/ops/gemm_operand_reuse.hpp): they nest,
// backends without hooks ignore them, and the Llama model puts exactly the
// products that share an operand in one scope (the CUDA backend's tests check
// what a backend does inside a scope).
#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/model/llama.hpp"
#include "lsk/ops/linear.hpp"
#include "lsk/testing/operand_reuse_emulator.hpp"
#include "lsk/testing/random.hpp"
#include "lsk/testing/tiny_llama.hpp"

namespace {
using lsk::index_t;

// The cpu backend, counting scopes and the products run inside and outside them.
struct scope_counting_cpu : lsk::backends::cpu {
  int depth = 0, max_depth = 0, scopes = 0, in_scope = 0, outside = 0;
  void begin_operand_reuse() {
    ++scopes;
    max_depth = std::max(max_depth, ++depth);
  }
  void end_operand_reuse() noexcept { --depth; }
  template <lsk::real_scalar T>
  void gemm(const lsk::gemm_problem<T>& g) {
    ++(depth > 0 ? in_scope : outside);
    lsk::backends::cpu::gemm(g);
  }
  void reset() { depth = max_depth = scopes = in_scope = outside = 0; }
};

}  // namespace

TEST_CASE("gemm_operand: contiguous when rows and matrices lie back to back", "[ops][gemm]") {
  lsk::gemm_problem<float> g;
  g.batch = 3;
  g.m = 4;
  g.n = 5;
  g.k = 6;
  g.lda = 6;
  g.stride_a = 24;
  g.ldb = 5;
  g.stride_b = 0;  // broadcast: one matrix
  g.ldc = 5;
  g.stride_c = 20;
  CHECK(lsk::operand_a(g).contiguous());
  CHECK(lsk::operand_b(g).contiguous());
  CHECK(lsk::output_c(g).contiguous());
  g.lda = 8;  // a column slice of a wider tensor
  g.stride_a = 32;
  CHECK_FALSE(lsk::operand_a(g).contiguous());
  g.lda = 12;  // the naive attention's heads of a group: batch stride head_dim, row pitch heads * head_dim
  g.stride_a = 6;
  CHECK_FALSE(lsk::operand_a(g).contiguous());
  g.lda = 6;  // rows back to back, matrices not
  g.stride_a = 30;
  CHECK_FALSE(lsk::operand_a(g).contiguous());
  g.trans_b = true;  // b stored (n, k): rows of k
  g.ldb = 6;
  CHECK(lsk::operand_b(g).contiguous());
  g.m = 1;  // one row per matrix: the pitch does not matter, the batch stride does
  g.lda = 100;
  g.stride_a = 6;
  CHECK(lsk::operand_a(g).contiguous());
  g.stride_a = 7;
  CHECK_FALSE(lsk::operand_a(g).contiguous());
}

TEST_CASE("a linear layer's backward reads dy in one scope; scopes nest", "[ops][gemm]") {
  scope_counting_cpu be;
  lsk::rng g(4);
  const auto x = lsk::testing::random_tensor<float>(g, {6, 5});
  const auto w = lsk::testing::random_tensor<float>(g, {3, 5});
  const auto dy = lsk::testing::random_tensor<float>(g, {6, 3});
  lsk::tensor<float> dx(lsk::shape{6, 5}), dw(lsk::shape{3, 5}, 0.0f);
  {
    const lsk::gemm_operand_reuse<scope_counting_cpu> outer(be);
    lsk::linear_backward<scope_counting_cpu, float>(be, x, w, dy, dx.view(), dw.view());
    CHECK(be.depth == 1);  // the inner scope has ended, the outer one not
  }
  CHECK(be.depth == 0);
  CHECK(be.max_depth == 2);
  CHECK(be.scopes == 2);
  CHECK(be.in_scope == 2);
  CHECK(be.outside == 0);
  // The same results as the plain cpu backend's.
  lsk::backends::cpu plain;
  lsk::tensor<float> dx2(lsk::shape{6, 5}), dw2(lsk::shape{3, 5}, 0.0f);
  lsk::linear_backward<lsk::backends::cpu, float>(plain, x, w, dy, dx2.view(), dw2.view());
  CHECK(dx.values() == dx2.values());
  CHECK(dw.values() == dw2.values());
}

TEST_CASE("the Llama model groups the products that share an operand", "[model][gemm]") {
  const auto c = lsk::testing::tiny_llama_config(32, 8, 32);
  auto m = lsk::testing::tiny_llama(c);
  const index_t layers = c.model.num_hidden_layers;
  scope_counting_cpu be;
  const auto batch = lsk::testing::patterned_batch(0, 0, 24, 32);
  m.forward(be, batch);
  // Per layer: q, k, v in one scope, gate and up in another; o, down and the LM head outside
  // (the attention's own products, if any, too).
  CHECK(be.scopes == 2 * layers);
  CHECK(be.in_scope == 5 * layers);
  CHECK(be.depth == 0);
  be.reset();
  m.backward(be);
  // Every linear backward is a scope (7 per layer and the LM head's), inside one scope for
  // gate and up and one for q, k and v: each of their two products in a scope.
  CHECK(be.scopes == 1 + 9 * layers);
  CHECK(be.in_scope == 2 + 14 * layers);
  CHECK(be.max_depth == 2);
  CHECK(be.depth == 0);
}

// The emulator (lsk/testing/operand_reuse_emulator.hpp) does what the CUDA backend does with kept
// copies, on the host: a broken promise gives stale products, so the model test below can fail.
TEST_CASE("the operand reuse emulator multiplies kept copies, stale ones included", "[ops][gemm]") {
  using emulator = lsk::testing::operand_reuse_emulator<lsk::backends::cpu>;
  emulator be;
  lsk::backends::cpu plain;
  lsk::rng g(7);
  auto x = lsk::testing::random_tensor<float>(g, {6, 5});
  const auto w1 = lsk::testing::random_tensor<float>(g, {3, 5});
  const auto w2 = lsk::testing::random_tensor<float>(g, {4, 5});
  const auto x_before = x;
  lsk::tensor<float> y1(lsk::shape{6, 3}), y2(lsk::shape{6, 4}), expected(lsk::shape{6, 4});
  {
    const lsk::gemm_operand_reuse<emulator> scope(be);
    lsk::linear_forward<emulator, float>(be, x, w1, y1.view());
    CHECK(be.reused() == 0);
    x.values()[0] += 1.0f;  // a write the scope's products do not see: a broken promise
    lsk::linear_forward<emulator, float>(be, x, w2, y2.view());
    CHECK(be.reused() == 1);
    lsk::linear_forward<lsk::backends::cpu, float>(plain, x_before, w2, expected.view());
    CHECK(y2.values() == expected.values());  // x's kept copy, from before the write
    lsk::linear_forward<lsk::backends::cpu, float>(plain, x, w2, expected.view());
    CHECK(y2.values() != expected.values());
    // A product that writes x drops its copy: the next product reads the new x.
    const auto identity = lsk::tensor<float>(lsk::shape{5, 5}, [] {
      std::vector<float> v(25, 0.0f);
      for (std::size_t i = 0; i < 5; ++i) v[i * 6] = 1.0f;
      return v;
    }());
    lsk::linear_forward<emulator, float>(be, x_before, identity, x.view());  // x = x_before I^T
    lsk::linear_forward<emulator, float>(be, x, w2, y2.view());
    lsk::linear_forward<lsk::backends::cpu, float>(plain, x_before, w2, expected.view());
    CHECK(y2.values() == expected.values());
  }
  // Outside a scope nothing is kept.
  CHECK(be.depth() == 0);
  const int before = be.reused();
  x.values()[0] += 1.0f;
  lsk::linear_forward<emulator, float>(be, x, w2, y2.view());
  lsk::linear_forward<lsk::backends::cpu, float>(plain, x, w2, expected.view());
  CHECK(y2.values() == expected.values());
  CHECK(be.reused() == before);
}

TEST_CASE("the Llama model keeps its operand reuse promise: kept copies change no result", "[model][gemm]") {
  // Forward and backward over two micro-batches (gradients accumulate), on the emulator and on
  // the plain cpu backend: losses and every gradient equal bit for bit, with copies reused.
  const auto c = lsk::testing::tiny_llama_config(32, 8, 32);
  auto on_emulator = lsk::testing::tiny_llama(c);
  auto on_cpu = lsk::testing::tiny_llama(c);
  lsk::testing::operand_reuse_emulator<lsk::backends::cpu> be;
  lsk::backends::cpu plain;
  for (index_t micro = 0; micro < 2; ++micro) {
    const auto batch = lsk::testing::patterned_batch(3, micro, 24, 32);
    const auto a = on_emulator.forward(be, batch);
    const auto b = on_cpu.forward(plain, batch);
    CHECK(a.loss == b.loss);
    on_emulator.backward(be);
    on_cpu.backward(plain);
  }
  // Per layer and micro-batch: forward h1 (q/k/v) twice and h2 (gate/up) once; backward the same
  // for the weight gradients, and dy once in each of the 7 linear backwards and the LM head's.
  const index_t layers = c.model.num_hidden_layers;
  CHECK(be.reused() == 2 * (6 * layers + 7 * layers + 1));
  CHECK(be.depth() == 0);
  std::vector<std::string> differing;
  on_emulator.grads.for_each([&](const std::string& name, lsk::tensor<float>& t) {
    on_cpu.grads.for_each([&](const std::string& other, lsk::tensor<float>& u) {
      if (name == other && t.values() != u.values()) differing.push_back(name);
    });
  });
  CHECK(differing == std::vector<std::string>{});  // names the gradients that differ
}

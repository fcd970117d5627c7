// Scopes of gemm operand reuse (lsk/ops/gemm_operand_reuse.hpp): they nest,
// backends without hooks ignore them, and the Llama model puts exactly the
// products that share an operand in one scope (the CUDA backend's tests check
// what a backend does inside a scope).
#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/model/llama.hpp"
#include "lsk/ops/linear.hpp"
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

// The op functions reject bad arguments with typed errors that name the op and argument.
#include <string>

#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/backends/reference/backend.hpp"
#include "lsk/core/tensor.hpp"
#include "lsk/ops.hpp"

using Catch::Matchers::Contains;
using lsk::shape;
using lsk::tensor;

TEST_CASE("matmul checks shapes and batch extents", "[ops][errors]") {
  lsk::backends::reference be;
  tensor<float> a(shape{2, 3}, 1.0f), b(shape{4, 5}, 1.0f), c(shape{2, 5});
  CHECK_THROWS_WITH((lsk::matmul<lsk::backends::reference, float>(be, a, b, c.view())),
                    Contains("matmul: inner extents differ"));
  tensor<float> b2(shape{3, 5}, 1.0f), c_bad(shape{2, 4});
  CHECK_THROWS_AS((lsk::matmul<lsk::backends::reference, float>(be, a, b2, c_bad.view())), lsk::shape_error);
  tensor<float> a3(shape{2, 2, 3}, 1.0f), b3(shape{3, 3, 5}, 1.0f), c3(shape{2, 2, 5});
  CHECK_THROWS_WITH((lsk::matmul<lsk::backends::reference, float>(be, a3, b3, c3.view())),
                    Contains("batch extents disagree"));
  tensor<float> ok(shape{2, 5});
  lsk::matmul<lsk::backends::reference, float>(be, a, b2, ok.view());
  CHECK(ok(1, 4) == 3.0f);
}

TEST_CASE("embedding rejects token ids outside the vocabulary, naming the position", "[ops][errors]") {
  lsk::backends::cpu be;
  tensor<float> table(shape{4, 3}, 1.0f), out(shape{3, 3});
  tensor<std::int32_t> ids(shape{3}, std::vector<std::int32_t>{0, 4, 1});
  CHECK_THROWS_AS((lsk::embedding_forward<lsk::backends::cpu, float>(be, ids.view(), table, out.view())),
                  lsk::index_error);
  CHECK_THROWS_WITH((lsk::embedding_forward<lsk::backends::cpu, float>(be, ids.view(), table, out.view())),
                    Contains("token id 4 at position 1"));
  tensor<std::int32_t> two(shape{2}, std::int32_t{0});
  CHECK_THROWS_AS((lsk::embedding_forward<lsk::backends::cpu, float>(be, two.view(), table, out.view())),
                  lsk::shape_error);
}

TEST_CASE("cross entropy validates targets of unmasked rows only", "[ops][errors]") {
  lsk::backends::cpu be;
  tensor<float> logits(shape{2, 3}, 0.5f), lse(shape{2});
  tensor<std::int32_t> targets(shape{2}, std::vector<std::int32_t>{1, -1});
  tensor<std::uint8_t> mask(shape{2}, std::vector<std::uint8_t>{1, 0});
  const auto r =
      lsk::cross_entropy_forward<lsk::backends::cpu, float>(be, logits, targets.view(), mask.view(), lse.view());
  CHECK(r.valid == 1);
  CHECK(r.loss == Approx(std::log(3.0)).epsilon(1e-6));
  mask(1) = 1;
  CHECK_THROWS_WITH(
      (lsk::cross_entropy_forward<lsk::backends::cpu, float>(be, logits, targets.view(), mask.view(), lse.view())),
      Contains("target -1 at row 1"));
}

TEST_CASE("row ops check widths, ranks and contiguity", "[ops][errors]") {
  lsk::backends::cpu be;
  tensor<float> x(shape{2, 4}, 1.0f), w(shape{3}, 1.0f), y(shape{2, 4}), rstd(shape{2});
  CHECK_THROWS_WITH((lsk::rmsnorm_forward<lsk::backends::cpu, float>(be, x, w, 1e-6f, y.view(), rstd.view())),
                    Contains("rmsnorm_forward: w"));
  tensor<float> w4(shape{4}, 1.0f);
  CHECK_THROWS_AS((lsk::rmsnorm_forward<lsk::backends::cpu, float>(be, x, w4, -1.0f, y.view(), rstd.view())),
                  lsk::config_error);
  tensor<float> sq(shape{3, 2}), out(shape{3, 2});
  CHECK_THROWS_WITH((lsk::causal_softmax_forward<lsk::backends::cpu, float>(be, sq, 1.0f, out.view())),
                    Contains("at least as many keys as queries"));
  tensor<float> t(shape{4, 2}), o(shape{2, 4});
  CHECK_THROWS_WITH((lsk::silu_forward<lsk::backends::cpu, float>(be, t.view().transpose(), o.view())),
                    Contains("must be contiguous"));
  tensor<float> a(shape{3}), b(shape{4}), c(shape{3});
  CHECK_THROWS_AS((lsk::add<lsk::backends::cpu, float>(be, a, b, c.view())), lsk::shape_error);
}

namespace {
// A backend that supports nothing in f64, to show the capability check.
struct f32_only : lsk::backends::reference {
  static constexpr std::string_view name = "f32_only";
  bool supports(lsk::op_kind, lsk::dtype dt) const { return dt == lsk::dtype::f32; }
};
static_assert(lsk::Backend<f32_only>);
}  // namespace

TEST_CASE("unsupported dtypes raise unsupported_error naming backend, op and dtype", "[ops][errors]") {
  f32_only be;
  tensor<double> x(shape{4}, 1.0), y(shape{4});
  CHECK_THROWS_WITH((lsk::silu_forward<f32_only, double>(be, x, y.view())),
                    Contains("f32_only backend does not support silu_forward for f64"));
}

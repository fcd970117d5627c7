// The rope op: argument checks, in-place use, the two pair layouts, and the
// algebra of the rotation. (Backend-vs-reference and finite-difference checks
// are the conformance suite's "rope" case.)
#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/backends/reference/backend.hpp"
#include "lsk/ops/rope.hpp"
#include "lsk/position.hpp"
#include "lsk/testing/random.hpp"

namespace {
using Catch::Matchers::Contains;
using lsk::index_t;
using lsk::rope_layout;
using lsk::shape;
using lsk::tensor;
using namespace lsk::position;

rope_config config(index_t head_dim, double partial = 1.0) {
  rope_config c;
  c.head_dim = head_dim;
  c.partial_rotary_factor = partial;
  c.max_position_embeddings = 4096;
  return c;
}

// Interleaved index of the rotate-half dim j (rotary dims only; the rest stay).
index_t interleaved_index(index_t j, index_t rotary) {
  const index_t half = rotary / 2;
  if (j >= rotary) return j;
  return j < half ? 2 * j : 2 * (j - half) + 1;
}
}  // namespace

TEMPLATE_TEST_CASE("interleaved and rotate-half layouts agree up to the permutation of dims", "[rope][op]",
                   lsk::backends::reference, lsk::backends::cpu) {
  TestType be;
  for (double partial : {1.0, 0.5}) {
    const rope r(with_yarn(config(80, partial), 16384));
    lsk::rng g(11);
    const index_t tokens = 9, heads = 3, d = 80, rotary = r.rotary_dim();
    tensor<std::int32_t> positions(shape{tokens}, std::vector<std::int32_t>{0, 1, 2, 0, 1, 700, 701, 3, 4000});
    const auto table = make_rope_table<double>(r, 4096);
    const auto x = lsk::testing::random_tensor<double>(g, shape{tokens, heads, d});
    tensor<double> xi(x.extents()), y(x.extents()), yi(x.extents());
    for (index_t t = 0; t < tokens; ++t)
      for (index_t h = 0; h < heads; ++h)
        for (index_t j = 0; j < d; ++j) xi(t, h, interleaved_index(j, rotary)) = x(t, h, j);
    lsk::rope_forward<TestType, double>(be, x, positions.view(), table.cos, table.sin, rope_layout::rotate_half,
                                        y.view());
    lsk::rope_forward<TestType, double>(be, xi, positions.view(), table.cos, table.sin, rope_layout::interleaved,
                                        yi.view());
    for (index_t t = 0; t < tokens; ++t)
      for (index_t h = 0; h < heads; ++h)
        for (index_t j = 0; j < d; ++j) REQUIRE(yi(t, h, interleaved_index(j, rotary)) == y(t, h, j));
  }
}

TEMPLATE_TEST_CASE("the rotation scales norms by the attention factor and backward undoes forward", "[rope][op]",
                   lsk::backends::reference, lsk::backends::cpu) {
  TestType be;
  const rope r(with_yarn(config(64), 32768));
  const double m = r.attention_factor();
  REQUIRE(m > 1.0);
  lsk::rng g(5);
  tensor<std::int32_t> positions(shape{4}, std::vector<std::int32_t>{5, 0, 31000, 5});
  const auto table = make_rope_table<double>(r, positions.view());
  const auto iota = iota_positions(4);
  const auto x = lsk::testing::random_tensor<double>(g, shape{4, 2, 64});
  tensor<double> y(x.extents()), back(x.extents());
  for (auto layout : {rope_layout::rotate_half, rope_layout::interleaved}) {
    lsk::rope_forward<TestType, double>(be, x, iota.view(), table.cos, table.sin, layout, y.view());
    lsk::rope_backward<TestType, double>(be, y, iota.view(), table.cos, table.sin, layout, back.view());
    for (index_t t = 0; t < 4; ++t) {
      for (index_t h = 0; h < 2; ++h) {
        double nx = 0, ny = 0;
        for (index_t j = 0; j < 64; ++j) {
          nx += x(t, h, j) * x(t, h, j);
          ny += y(t, h, j) * y(t, h, j);
          CHECK(back(t, h, j) == Approx(m * m * x(t, h, j)).epsilon(1e-12));
        }
        CHECK(std::sqrt(ny) == Approx(m * std::sqrt(nx)).epsilon(1e-12));
      }
    }
    // Tokens 0 and 3 share position 5: the same table row.
    for (index_t i = 0; i < 32; ++i) CHECK(table.cos(3, i) == table.cos(0, i));
  }
}

TEMPLATE_TEST_CASE("rope runs in place, and q.k depends only on the distance between positions", "[rope][op]",
                   lsk::backends::reference, lsk::backends::cpu) {
  TestType be;
  const rope r(config(64));
  const auto table = make_rope_table<double>(r, 3000);
  lsk::rng g(3);
  const auto q = lsk::testing::random_tensor<double>(g, shape{1, 1, 64});
  const auto k = lsk::testing::random_tensor<double>(g, shape{1, 1, 64});
  auto dot_at = [&](std::int32_t pq, std::int32_t pk) {
    tensor<double> qr = q, kr = k;
    tensor<std::int32_t> a(shape{1}, std::vector<std::int32_t>{pq}), b(shape{1}, std::vector<std::int32_t>{pk});
    lsk::rope_forward<TestType, double>(be, qr, a.view(), table.cos, table.sin, rope_layout::rotate_half, qr.view());
    lsk::rope_forward<TestType, double>(be, kr, b.view(), table.cos, table.sin, rope_layout::rotate_half, kr.view());
    double s = 0;
    for (index_t j = 0; j < 64; ++j) s += qr(0, 0, j) * kr(0, 0, j);
    return s;
  };
  CHECK(dot_at(10, 3) == Approx(dot_at(2007, 2000)).epsilon(1e-10));
  CHECK(dot_at(0, 0) == Approx(dot_at(2999, 2999)).epsilon(1e-10));
  CHECK(dot_at(10, 3) != Approx(dot_at(10, 4)).epsilon(1e-6));
}

TEST_CASE("rope op checks shapes, positions and aliasing", "[rope][op][errors]") {
  lsk::backends::cpu be;
  using B = lsk::backends::cpu;
  const auto table = make_rope_table<float>(rope(config(8)), 10);
  auto forward = [&](lsk::const_view<float> x, const tensor<std::int32_t>& pos, lsk::tensor_view<float> y) {
    lsk::rope_forward<B, float>(be, x, pos.view(), table.cos, table.sin, rope_layout::rotate_half, y);
  };
  auto backward = [&](lsk::const_view<float> dy, const tensor<std::int32_t>& pos, lsk::tensor_view<float> dx) {
    lsk::rope_backward<B, float>(be, dy, pos.view(), table.cos, table.sin, rope_layout::rotate_half, dx);
  };
  tensor<float> x(shape{2, 1, 8}, 0.5f), y(shape{2, 1, 8});
  tensor<std::int32_t> pos(shape{2}, std::vector<std::int32_t>{0, 9});
  CHECK_NOTHROW(forward(x, pos, y.view()));
  tensor<std::int32_t> far(shape{2}, std::vector<std::int32_t>{0, 10});
  CHECK_THROWS_AS(forward(x, far, y.view()), lsk::index_error);
  CHECK_THROWS_WITH(backward(x, far, y.view()), Contains("position 10 of token 1"));
  tensor<std::int32_t> three(shape{3}, std::int32_t{0});
  CHECK_THROWS_AS(forward(x, three, y.view()), lsk::shape_error);
  tensor<float> narrow(shape{2, 1, 6}), narrow_out(shape{2, 1, 6});
  CHECK_THROWS_WITH(forward(narrow, pos, narrow_out.view()), Contains("rotary dimension of 8"));
  tensor<float> flat(shape{2, 8}), flat_out(shape{2, 8});
  CHECK_THROWS_AS(forward(flat, pos, flat_out.view()), lsk::shape_error);
  tensor<float> big(shape{3, 1, 8}, 0.5f);
  const lsk::tensor_view<float> shifted_in(big.data(), shape{2, 1, 8});
  const lsk::tensor_view<float> shifted_out(big.data() + 8, shape{2, 1, 8});
  CHECK_THROWS_WITH(forward(shifted_in, pos, shifted_out), Contains("overlaps"));
  CHECK_NOTHROW(forward(shifted_in, pos, shifted_in));  // in place is allowed
}

#include <algorithm>
#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/core/tensor.hpp"
#include "lsk/optim/adamw.hpp"
#include "lsk/optim/grad_clip.hpp"
#include "lsk/testing/random.hpp"

TEST_CASE("global-norm clipping scales every gradient by one factor", "[optim]") {
  lsk::backends::cpu be;
  lsk::tensor<float> a(lsk::shape{2}, std::vector<float>{3, 0}), b(lsk::shape{1}, std::vector<float>{4});
  std::vector<lsk::tensor_view<float>> grads{a.view(), b.view()};
  CHECK(lsk::optim::clip_grad_norm(be, grads, 10.0) == Approx(5.0));
  CHECK(a(0) == 3.0f);  // below the limit: untouched
  CHECK(lsk::optim::clip_grad_norm(be, grads, 1.0) == Approx(5.0));
  CHECK(a(0) == Approx(3.0 / (5.0 + 1e-6)));
  CHECK(b(0) == Approx(4.0 / (5.0 + 1e-6)));
  CHECK(std::sqrt(a(0) * a(0) + b(0) * b(0)) == Approx(1.0).epsilon(1e-5));
  b(0) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(lsk::optim::clip_grad_norm(be, grads, 1.0), lsk::numeric_error);
  CHECK(a(0) == Approx(3.0 / (5.0 + 1e-6)));  // nothing scaled
}

TEST_CASE("sum_squares_total is the sum of the tensors' sums of squares", "[optim]") {
  lsk::backends::cpu be;
  lsk::tensor<float> a(lsk::shape{3}, std::vector<float>{1, -2, 0.5f}), b(lsk::shape{0}),
      c(lsk::shape{1}, std::vector<float>{3});
  const std::vector<lsk::tensor_view<float>> xs{a.view(), b.view(), c.view()};
  CHECK(lsk::sum_squares_total<lsk::backends::cpu, float>(be, xs) == 1 + 4 + 0.25 + 9);
  CHECK(lsk::sum_squares_total<lsk::backends::cpu, float>(be, {}) == 0.0);
}

TEST_CASE("clipping inside AdamW's update equals clipping the gradients first", "[optim]") {
  lsk::backends::cpu be;
  lsk::rng g(17);
  const auto p0 = lsk::testing::random_tensor<float>(g, {4, 33});
  const auto g0 = lsk::testing::random_tensor<float>(g, {4, 33});
  for (const double max_norm : {0.5, 1e6}) {  // clipped, and within the limit
    INFO("max_norm " << max_norm);
    lsk::tensor<float> pa = p0, ga = g0, pb = p0, gb = g0;
    lsk::optim::adamw<float> oa({.lr = 1e-2}), ob({.lr = 1e-2});
    oa.add(pa, ga);
    ob.add(pb, gb);
    for (int step = 0; step < 3; ++step) {
      const double na = lsk::optim::clip_grad_norm<lsk::backends::cpu, float>(be, {ga.view()}, max_norm);
      oa.step(be);
      const auto clip = lsk::optim::measure_grad_norm<lsk::backends::cpu, float>(be, {gb.view()}, max_norm);
      CHECK(clip.norm == na);
      CHECK((clip.factor == 1.0) == (max_norm > 1e5));
      ob.step(be, -1.0, clip.factor);
      std::copy(g0.values().begin(), g0.values().end(), ga.values().begin());  // clip_grad_norm scaled ga
    }
    CHECK(pa.values() == pb.values());  // bit for bit
    CHECK(gb.values() == g0.values());  // measure_grad_norm left the gradient alone
  }
}

#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/core/tensor.hpp"
#include "lsk/optim/grad_clip.hpp"

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

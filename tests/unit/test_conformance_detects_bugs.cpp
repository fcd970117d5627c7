// The conformance suite must fail for broken backends. Each backend below is
// the reference backend with one subtle bug; the suite has to catch every one.
#include <catch2/catch.hpp>

#include "lsk/testing/harness.hpp"

namespace {
using lsk::const_view;
using lsk::index_t;
using lsk::real_scalar;
using lsk::tensor_view;
using lsk::backends::reference;

struct gemm_ignores_beta : reference {
  template <real_scalar T>
  void gemm(lsk::gemm_problem<T> g) {
    g.beta = T(0);
    reference::gemm(g);
  }
};

struct rmsnorm_overwrites_dw : reference {  // must accumulate parameter gradients
  template <real_scalar T>
  void rmsnorm_backward(const_view<T> dy, const_view<T> x, const_view<T> w, const_view<T> rstd, tensor_view<T> dx,
                        tensor_view<T> dw) {
    std::fill(dw.data(), dw.data() + dw.numel(), T(0));
    reference::rmsnorm_backward(dy, x, w, rstd, dx, dw);
  }
};

struct causal_softmax_sees_next_key : reference {
  template <real_scalar T>
  void causal_softmax_forward(const_view<T> x, T scale, tensor_view<T> y) {
    const index_t keys = x.dim(-1), queries = x.dim(-2);
    for (index_t r = 0; r < x.extents().rows(); ++r) {
      const index_t visible = std::min(keys, r % queries + (keys - queries) + 2);
      const T* xr = x.data() + r * keys;
      T* yr = y.data() + r * keys;
      double mx = -INFINITY, s = 0;
      for (index_t j = 0; j < visible; ++j) mx = std::max(mx, double(scale * xr[j]));
      for (index_t j = 0; j < visible; ++j) s += std::exp(double(scale * xr[j]) - mx);
      for (index_t j = 0; j < keys; ++j) yr[j] = j < visible ? T(std::exp(double(scale * xr[j]) - mx) / s) : T(0);
    }
  }
};

struct cross_entropy_ignores_mask : reference {
  template <real_scalar T>
  void cross_entropy_backward(const_view<T> logits, lsk::const_view<std::int32_t> targets,
                              lsk::const_view<std::uint8_t> mask, const_view<T> lse, T s, tensor_view<T> dlogits) {
    lsk::tensor<std::uint8_t> all(mask.extents(), std::uint8_t{1});
    lsk::tensor<std::int32_t> t(targets.extents());
    for (index_t r = 0; r < t.numel(); ++r) t(r) = std::max(0, targets.data()[r]);
    reference::cross_entropy_backward(logits, t.view(), all.view(), lse, s, dlogits);
  }
};

struct sum_rows_skips_last_row : reference {
  template <real_scalar T>
  void sum_rows(const_view<T> x, tensor_view<T> y) {
    reference::sum_rows(x.slice(0, std::max<index_t>(x.dim(0) - 1, 1)), y);
    if (x.dim(0) == 1) y.data()[0] += T(1e-3);
  }
};

// Forward matches the reference, backward is consistently wrong by 1%: only
// the finite-difference check can see it without a second implementation.
struct swiglu_backward_off_by_one_percent : reference {
  template <real_scalar T>
  void swiglu_backward(const_view<T> g, const_view<T> u, const_view<T> dy, tensor_view<T> dg, tensor_view<T> du) {
    reference::swiglu_backward(g, u, dy, dg, du);
    for (index_t i = 0; i < dg.numel(); ++i) dg.data()[i] *= T(1.01);
  }
};

// RoPE backward that turns by +angle (forward's rotation) instead of -angle.
struct rope_backward_not_transposed : reference {
  template <real_scalar T>
  void rope_backward(const_view<T> dy, lsk::const_view<std::int32_t> pos, const_view<T> c, const_view<T> s,
                     lsk::rope_layout layout, tensor_view<T> dx) {
    reference::rope_forward(dy, pos, c, s, layout, dx);
  }
};

// RoPE that leaves the pass-through dims of a partially rotated head unwritten.
struct rope_skips_pass_through : reference {
  template <real_scalar T>
  void rope_forward(const_view<T> x, lsk::const_view<std::int32_t> pos, const_view<T> c, const_view<T> s,
                    lsk::rope_layout layout, tensor_view<T> y) {
    lsk::tensor<T> full(y.extents());
    reference::rope_forward(x, pos, c, s, layout, full.view());
    const index_t d = y.dim(2), rotary = 2 * c.dim(1);
    for (index_t r = 0; r < y.numel() / d; ++r)
      for (index_t j = 0; j < rotary; ++j) y.data()[r * d + j] = full.data()[r * d + j];
  }
};
// AdamW that forgets the decoupled weight decay.
struct adamw_without_decay : reference {
  template <real_scalar T>
  void adamw_update(tensor_view<T> p, const_view<T> g, tensor_view<T> m, tensor_view<T> v,
                    const lsk::adamw_coefficients<T>& c) {
    lsk::adamw_coefficients<T> no_decay = c;
    no_decay.decay_factor = T(1);
    reference::adamw_update(p, g, m, v, no_decay);
  }
};
}  // namespace

TEST_CASE("conformance catches broken backends", "[conformance][meta]") {
  using namespace lsk::testing;
  {
    gemm_ignores_beta be;
    CHECK_FALSE(conformance_check<matmul_case, float>(be).passed());
  }
  {
    rmsnorm_overwrites_dw be;
    CHECK_FALSE(conformance_check<rmsnorm_case, float>(be).passed());
    CHECK_FALSE(gradient_check<rmsnorm_case>(be).passed());
  }
  {
    causal_softmax_sees_next_key be;
    CHECK_FALSE(conformance_check<causal_softmax_case, float>(be).passed());
  }
  {
    cross_entropy_ignores_mask be;
    CHECK_FALSE(conformance_check<cross_entropy_case, float>(be).passed());
    CHECK_FALSE(gradient_check<cross_entropy_case>(be).passed());
  }
  {
    sum_rows_skips_last_row be;
    CHECK_FALSE(conformance_check<sum_rows_case, double>(be).passed());
  }
  {
    swiglu_backward_off_by_one_percent be;
    CHECK_FALSE(gradient_check<swiglu_case>(be).passed());
  }
  {
    rope_backward_not_transposed be;
    CHECK_FALSE(conformance_check<rope_case, float>(be).passed());
    CHECK_FALSE(gradient_check<rope_case>(be).passed());
  }
  {
    rope_skips_pass_through be;
    CHECK_FALSE(conformance_check<rope_case, double>(be).passed());
  }
  {
    adamw_without_decay be;
    CHECK_FALSE(conformance_check<adamw_update_case, float>(be).passed());
  }
  {
    reference be;  // and the unbroken reference passes all of them
    CHECK(conformance_check<matmul_case, float>(be).passed());
    CHECK(gradient_check<swiglu_case>(be).passed());
    CHECK(conformance_check<adamw_update_case, float>(be).passed());
  }
}

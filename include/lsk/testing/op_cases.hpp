// lsk/testing/op_cases.hpp: one test case per op, written once for any backend.
//
// A case is a class template over the element type T with:
//   name, trials                 the op's name; how many size draws to test
//   tol_f32, tol_f64             conformance tolerance (scaled_max_error) vs reference
//   grad_outputs                 how many leading outputs are differentiable
//   has_backward                 false for ops without a gradient
//   Case(rng&, int trial)        draws extents (boundary sizes first) and non-real data
//   inputs(rng&)                 the differentiable inputs (never zero)
//   accumulates(i)               whether input i's gradient accumulates (+=)
//   forward(be, inputs)          the outputs, through the lsk:: op functions
//   backward(be, inputs, douts, grads)  writes d(sum_o douts[o] * outputs[o]) / d inputs
// The drivers in harness.hpp run each case against the reference backend and
// against finite differences.
#pragma once

#include <cmath>
#include <vector>

#include "lsk/ops.hpp"
#include "lsk/testing/random.hpp"

namespace lsk::testing {

template <class T>
using tensors = std::vector<tensor<T>>;

// Defaults shared by most cases.
struct case_defaults {
  static constexpr int trials = 6;
  static constexpr double tol_f32 = 2e-6;
  static constexpr double tol_f64 = 1e-12;
  static constexpr int grad_outputs = 1;
  static constexpr bool has_backward = true;
  static bool accumulates(std::size_t) { return false; }
};

template <class T>
struct matmul_case : case_defaults {
  static constexpr const char* name = "matmul";
  static constexpr int trials = 12;
  static constexpr double tol_f32 = 2e-5;
  index_t batch, m, n, k;
  bool trans_a, trans_b, batched_a, batched_b;
  T alpha, beta;

  matmul_case(rng& g, int trial) {
    m = pick_extent(g, trial, {1, 1, 17, 64}, 1, 70);
    n = pick_extent(g, trial, {1, 9, 1, 64}, 1, 70);
    k = pick_extent(g, trial, {1, 4, 33, 64}, 1, 90);
    trans_a = (trial & 1) != 0;
    trans_b = (trial & 2) != 0;
    batch = trial % 3 == 0 ? 1 : 3;
    batched_a = batch > 1 && trial % 4 != 1;  // sometimes broadcast a rank-2 operand
    batched_b = batch > 1 && trial % 4 != 2;
    alpha = static_cast<T>(0.5 + g.uniform01_d());
    beta = trial % 2 == 0 ? T(0) : static_cast<T>(g.uniform01_d() - 0.5);
  }
  shape stored(bool batched, bool trans, index_t rows, index_t cols) const {
    shape s;
    if (batched) s.push_back(batch);
    s.push_back(trans ? cols : rows);
    s.push_back(trans ? rows : cols);
    return s;
  }
  shape c_shape() const { return batch > 1 ? shape{batch, m, n} : shape{m, n}; }
  tensors<T> inputs(rng& g) const {
    tensors<T> in;
    in.push_back(random_tensor<T>(g, stored(batched_a, trans_a, m, k)));
    in.push_back(random_tensor<T>(g, stored(batched_b, trans_b, k, n)));
    in.push_back(random_tensor<T>(g, c_shape()));
    return in;
  }
  static tensor_view<const T> logical(const tensor<T>& t, bool trans) {
    return trans ? t.view().transpose() : t.view();
  }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out;
    out.push_back(beta == T(0) ? poisoned<T>(c_shape()) : in[2]);
    matmul<B, T>(be, logical(in[0], trans_a), logical(in[1], trans_b), out[0].view(), alpha, beta);
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>& in, const tensors<T>& dout, tensors<T>& grads) const {
    tensor<T> dc(dout[0].extents());
    scale<B, T>(be, dout[0], alpha, dc.view());
    // Gradients of the logical (untransposed) operands, then stored back.
    tensor<T> da(logical(in[0], trans_a).extents()), db(logical(in[1], trans_b).extents());
    matmul_backward<B, T>(be, logical(in[0], trans_a), logical(in[1], trans_b), dc, da.view(), db.view());
    copy<T, T>(da.view(), trans_a ? grads[0].view().transpose() : grads[0].view());
    copy<T, T>(db.view(), trans_b ? grads[1].view().transpose() : grads[1].view());
    scale<B, T>(be, dout[0], beta, grads[2].view());
  }
};

template <class T>
struct embedding_case : case_defaults {
  static constexpr const char* name = "embedding";
  index_t vocab, n, dim;
  tensor<std::int32_t> ids;
  embedding_case(rng& g, int trial) {
    vocab = pick_extent(g, trial, {1, 5, 50}, 1, 60);
    n = pick_extent(g, trial, {1, 13, 70}, 1, 80);  // n > vocab repeats ids
    dim = pick_extent(g, trial, {1, 7, 64}, 1, 130);
    ids = random_ids(g, n, vocab);
  }
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, {vocab, dim})}; }
  static bool accumulates(std::size_t) { return true; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{poisoned<T>({n, dim})};
    embedding_forward<B, T>(be, ids.view(), in[0], out[0].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>&, const tensors<T>& dout, tensors<T>& grads) const {
    embedding_backward<B, T>(be, ids.view(), dout[0], grads[0].view());
  }
};

template <class T>
struct rmsnorm_case : case_defaults {
  static constexpr const char* name = "rmsnorm";
  static constexpr double tol_f32 = 1e-5;
  index_t rows, d;
  T eps;
  rmsnorm_case(rng& g, int trial) {
    rows = pick_extent(g, trial, {1, 3, 16}, 1, 40);
    // d = 1 is left out: dx = rstd * g * eps / (x^2 + eps) there, pure cancellation in f32.
    d = pick_extent(g, trial, {2, 31, 128}, 2, 300);
    eps = static_cast<T>(trial % 2 == 0 ? 1e-6 : 1e-5);
  }
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, {rows, d}), random_tensor<T>(g, {d})}; }
  static bool accumulates(std::size_t i) { return i == 1; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{poisoned<T>({rows, d}), poisoned<T>({rows})};
    rmsnorm_forward<B, T>(be, in[0], in[1], eps, out[0].view(), out[1].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>& in, const tensors<T>& dout, tensors<T>& grads) const {
    const auto fwd = forward(be, in);
    rmsnorm_backward<B, T>(be, dout[0], in[0], in[1], fwd[1], grads[0].view(), grads[1].view());
  }
};

// Cases for element-wise ops share extents: n elements, boundary 1, 7, 16385.
struct elementwise_extent {
  shape extents;
  elementwise_extent(rng& g, int trial) {
    const index_t rows = pick_extent(g, trial, {1, 1, 3}, 1, 9);
    const index_t cols = pick_extent(g, trial, {1, 7, 16385}, 1, 5000);
    extents = shape{rows, cols};
  }
};

template <class T>
struct silu_case : case_defaults, elementwise_extent {
  static constexpr const char* name = "silu";
  using elementwise_extent::elementwise_extent;
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, extents, 4.0)}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{poisoned<T>(extents)};
    silu_forward<B, T>(be, in[0], out[0].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>& in, const tensors<T>& dout, tensors<T>& grads) const {
    silu_backward<B, T>(be, in[0], dout[0], grads[0].view());
  }
};

template <class T>
struct swiglu_case : case_defaults, elementwise_extent {
  static constexpr const char* name = "swiglu";
  using elementwise_extent::elementwise_extent;
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, extents, 4.0), random_tensor<T>(g, extents)}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{poisoned<T>(extents)};
    swiglu_forward<B, T>(be, in[0], in[1], out[0].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>& in, const tensors<T>& dout, tensors<T>& grads) const {
    swiglu_backward<B, T>(be, in[0], in[1], dout[0], grads[0].view(), grads[1].view());
  }
};

template <class T>
struct softmax_case : case_defaults {
  static constexpr const char* name = "softmax";
  static constexpr double tol_f32 = 1e-5;
  index_t rows, n;
  T scale_factor;
  bool in_place;  // odd trials: y = x and dx = dy share storage
  softmax_case(rng& g, int trial) : in_place(trial % 2 == 1) {
    rows = pick_extent(g, trial, {1, 4, 2}, 1, 20);
    n = pick_extent(g, trial, {1, 17, 1000}, 1, 300);
    scale_factor = static_cast<T>(0.5 + 1.5 * g.uniform01_d());
  }
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, {rows, n}, 3.0)}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{in_place ? in[0] : poisoned<T>({rows, n})};
    softmax_forward<B, T>(be, in_place ? out[0].view() : in[0].view(), scale_factor, out[0].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>& in, const tensors<T>& dout, tensors<T>& grads) const {
    const auto y = forward(be, in);
    if (in_place) copy<T, T>(dout[0].view(), grads[0].view());
    softmax_backward<B, T>(be, y[0], in_place ? grads[0].view() : dout[0].view(), scale_factor, grads[0].view());
  }
};

template <class T>
struct causal_softmax_case : case_defaults {
  static constexpr const char* name = "causal_softmax";
  static constexpr double tol_f32 = 1e-5;
  index_t batch, queries, keys;
  T scale_factor;
  bool in_place;  // odd trials: y = x
  causal_softmax_case(rng& g, int trial) : in_place(trial % 2 == 1) {
    batch = pick_extent(g, trial, {1, 2, 3}, 1, 4);
    queries = pick_extent(g, trial, {1, 5, 33}, 1, 40);
    keys = queries + pick_extent(g, trial, {0, 0, 4}, 0, 9);
    scale_factor = static_cast<T>(0.5 + 1.5 * g.uniform01_d());
  }
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, {batch, queries, keys}, 3.0)}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{in_place ? in[0] : poisoned<T>({batch, queries, keys})};
    causal_softmax_forward<B, T>(be, in_place ? out[0].view() : in[0].view(), scale_factor, out[0].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>& in, const tensors<T>& dout, tensors<T>& grads) const {
    const auto y = forward(be, in);
    softmax_backward<B, T>(be, y[0], dout[0], scale_factor, grads[0].view());
  }
};

template <class T>
struct cross_entropy_case : case_defaults {
  static constexpr const char* name = "cross_entropy";
  static constexpr double tol_f32 = 1e-5;
  index_t rows, vocab;
  double normalizer = 0.0;  // 0: mean over valid rows
  tensor<std::int32_t> targets;
  tensor<std::uint8_t> mask;
  cross_entropy_case(rng& g, int trial) {
    rows = pick_extent(g, trial, {1, 6, 40}, 1, 50);
    vocab = pick_extent(g, trial, {2, 9, 1000}, 2, 600);  // vocab 1: every loss is 0
    targets = random_ids(g, rows, vocab);
    mask = tensor<std::uint8_t>(shape{rows}, std::uint8_t{1});
    for (index_t r = 1; r < rows; ++r) {  // row 0 stays valid
      if (g.below(3) == 0) {
        mask(r) = 0;
        targets(r) = -1;  // ignored target of a masked row
      }
    }
    if (trial % 2 == 1) normalizer = static_cast<double>(rows + 7);  // a global token count
  }
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, {rows, vocab}, 4.0)}; }
  static constexpr int grad_outputs = 1;
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{poisoned<T>({1}), poisoned<T>({rows})};
    const auto r = cross_entropy_forward<B, T>(be, in[0], targets.view(), mask.view(), out[1].view(), normalizer);
    out[0](0) = static_cast<T>(r.loss);
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>& in, const tensors<T>& dout, tensors<T>& grads) const {
    tensor<T> lse(shape{rows});
    const auto r = cross_entropy_forward<B, T>(be, in[0], targets.view(), mask.view(), lse.view(), normalizer);
    cross_entropy_backward<B, T>(be, in[0], targets.view(), mask.view(), lse.view(), double(dout[0](0)), r.normalizer,
                                 grads[0].view());
  }
};

template <class T>
struct add_case : case_defaults, elementwise_extent {
  static constexpr const char* name = "add";
  using elementwise_extent::elementwise_extent;
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, extents), random_tensor<T>(g, extents)}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{poisoned<T>(extents)};
    add<B, T>(be, in[0], in[1], out[0].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>&, const tensors<T>& dout, tensors<T>& grads) const {
    add_backward<B, T>(be, dout[0], grads[0].view(), grads[1].view());
  }
};

template <class T>
struct mul_case : case_defaults, elementwise_extent {
  static constexpr const char* name = "mul";
  using elementwise_extent::elementwise_extent;
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, extents), random_tensor<T>(g, extents)}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{poisoned<T>(extents)};
    mul<B, T>(be, in[0], in[1], out[0].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>& in, const tensors<T>& dout, tensors<T>& grads) const {
    mul_backward<B, T>(be, in[0], in[1], dout[0], grads[0].view(), grads[1].view());
  }
};

template <class T>
struct scale_case : case_defaults, elementwise_extent {
  static constexpr const char* name = "scale";
  T alpha;
  scale_case(rng& g, int trial) : elementwise_extent(g, trial), alpha(static_cast<T>(g.uniform01_d() * 4 - 2)) {}
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, extents)}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{poisoned<T>(extents)};
    scale<B, T>(be, in[0], alpha, out[0].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>&, const tensors<T>& dout, tensors<T>& grads) const {
    scale_backward<B, T>(be, dout[0], alpha, grads[0].view());
  }
};

template <class T>
struct axpy_case : case_defaults, elementwise_extent {
  static constexpr const char* name = "axpy";
  T alpha;
  axpy_case(rng& g, int trial) : elementwise_extent(g, trial), alpha(static_cast<T>(g.uniform01_d() * 4 - 2)) {}
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, extents), random_tensor<T>(g, extents)}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{in[1]};  // y starts as the second input, then y += alpha * x
    axpy<B, T>(be, alpha, in[0], out[0].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>&, const tensors<T>& dout, tensors<T>& grads) const {
    scale<B, T>(be, dout[0], alpha, grads[0].view());
    scale<B, T>(be, dout[0], T(1), grads[1].view());
  }
};

template <class T>
struct fill_case : case_defaults, elementwise_extent {
  static constexpr const char* name = "fill";
  static constexpr bool has_backward = false;
  T value;
  fill_case(rng& g, int trial) : elementwise_extent(g, trial), value(static_cast<T>(g.uniform01_d() + 0.5)) {}
  tensors<T> inputs(rng&) const { return {}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>&) const {
    tensors<T> out{poisoned<T>(extents)};
    fill<B, T>(be, out[0].view(), value);
    return out;
  }
  template <Backend B>
  void backward(B&, const tensors<T>&, const tensors<T>&, tensors<T>&) const {}
};

// Inputs: param, grad, m, v (v >= 0); outputs: the updated param, m, v. Early
// steps (large bias corrections), with and without weight decay, with and
// without a gradient scale.
template <class T>
struct adamw_update_case : case_defaults, elementwise_extent {
  static constexpr const char* name = "adamw_update";
  static constexpr bool has_backward = false;
  static constexpr double tol_f32 = 1e-5;
  adamw_coefficients<T> c;
  adamw_update_case(rng& g, int trial) : elementwise_extent(g, trial) {
    const double lr = 1e-3 * (1 + g.uniform01_d()), beta1 = 0.9, beta2 = 0.95, t = 1 + trial;
    c.beta1 = static_cast<T>(beta1);
    c.beta2 = static_cast<T>(beta2);
    c.step_size = static_cast<T>(lr / (1 - std::pow(beta1, t)));
    c.inv_sqrt_c2 = static_cast<T>(1 / std::sqrt(1 - std::pow(beta2, t)));
    c.eps = static_cast<T>(1e-8);
    c.decay_factor = static_cast<T>(trial % 2 == 0 ? 1 - lr * 0.1 : 1.0);
    c.grad_scale = static_cast<T>(trial % 3 == 1 ? 0.25 + 0.5 * g.uniform01_d() : 1.0);  // a clipping factor
  }
  tensors<T> inputs(rng& g) const {
    tensors<T> in{random_tensor<T>(g, extents), random_tensor<T>(g, extents), random_tensor<T>(g, extents),
                  random_tensor<T>(g, extents)};
    for (auto& x : in[3].values()) x = std::abs(x);
    return in;
  }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{in[0], in[2], in[3]};
    adamw_update<B, T>(be, out[0].view(), in[1], out[1].view(), out[2].view(), c);
    return out;
  }
  template <Backend B>
  void backward(B&, const tensors<T>&, const tensors<T>&, tensors<T>&) const {}
};

template <class T>
struct sum_case : case_defaults, elementwise_extent {
  static constexpr const char* name = "sum";
  static constexpr double tol_f32 = 1e-6;
  using elementwise_extent::elementwise_extent;
  tensors<T> inputs(rng& g) const {
    auto x = random_tensor<T>(g, extents);
    for (auto& v : x.values()) v = std::abs(v);  // same signs: no cancellation to amplify errors
    return {std::move(x)};
  }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    return {tensor<T>(shape{1}, {static_cast<T>(sum(be, in[0].view()))})};
  }
  template <Backend B>
  void backward(B& be, const tensors<T>&, const tensors<T>& dout, tensors<T>& grads) const {
    sum_backward<B, T>(be, double(dout[0](0)), grads[0].view());
  }
};

template <class T>
struct sum_squares_case : case_defaults, elementwise_extent {
  static constexpr const char* name = "sum_squares";
  static constexpr double tol_f32 = 1e-6;
  using elementwise_extent::elementwise_extent;
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, extents)}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    return {tensor<T>(shape{1}, {static_cast<T>(sum_squares(be, in[0].view()))})};
  }
  template <Backend B>
  void backward(B& be, const tensors<T>& in, const tensors<T>& dout, tensors<T>& grads) const {
    sum_squares_backward<B, T>(be, in[0], double(dout[0](0)), grads[0].view());
  }
};

template <class T>
struct max_abs_case : case_defaults, elementwise_extent {
  static constexpr const char* name = "max_abs";
  static constexpr bool has_backward = false;
  static constexpr double tol_f32 = 0.0;
  static constexpr double tol_f64 = 0.0;
  using elementwise_extent::elementwise_extent;
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, extents)}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    return {tensor<T>(shape{1}, {static_cast<T>(max_abs(be, in[0].view()))})};
  }
  template <Backend B>
  void backward(B&, const tensors<T>&, const tensors<T>&, tensors<T>&) const {}
};

template <class T>
struct sum_rows_case : case_defaults {
  static constexpr const char* name = "sum_rows";
  index_t rows, n;
  sum_rows_case(rng& g, int trial) {
    rows = pick_extent(g, trial, {1, 70, 3}, 1, 100);
    n = pick_extent(g, trial, {1, 3, 600}, 1, 700);
  }
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, {rows, n})}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{poisoned<T>({n})};
    sum_rows<B, T>(be, in[0], out[0].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>&, const tensors<T>& dout, tensors<T>& grads) const {
    sum_rows_backward<B, T>(be, dout[0], grads[0].view());
  }
};

template <class T>
struct broadcast_rows_case : case_defaults {
  static constexpr const char* name = "broadcast_rows";
  index_t rows, n;
  broadcast_rows_case(rng& g, int trial) {
    rows = pick_extent(g, trial, {1, 70, 3}, 1, 100);
    n = pick_extent(g, trial, {1, 3, 600}, 1, 700);
  }
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, {n})}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{poisoned<T>({rows, n})};
    broadcast_rows<B, T>(be, in[0], out[0].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>&, const tensors<T>& dout, tensors<T>& grads) const {
    sum_rows<B, T>(be, dout[0], grads[0].view());
  }
};

// RoPE on (tokens, heads, head_dim) with (cos, sin) tables of `rows` positions
// that carry an attention factor != 1. Odd trials use the interleaved layout;
// every third trial rotates only part of the head (the rest passes through);
// positions repeat and jump (document resets, skips); trials 3, 7, ... run in place.
template <class T>
struct rope_case : case_defaults {
  static constexpr const char* name = "rope";
  index_t tokens, heads, half, head_dim, rows;
  rope_layout layout;
  bool in_place;
  tensor<std::int32_t> positions;
  tensor<T> cos, sin;
  rope_case(rng& g, int trial)
      : layout(trial % 2 == 1 ? rope_layout::interleaved : rope_layout::rotate_half), in_place(trial % 4 == 3) {
    tokens = pick_extent(g, trial, {1, 7, 33}, 1, 40);
    heads = pick_extent(g, trial, {1, 3, 2}, 1, 4);
    half = pick_extent(g, trial, {1, 4, 32}, 1, 40);
    head_dim = 2 * half + (trial % 3 == 1 ? 1 + static_cast<index_t>(g.below(7)) : 0);
    rows = pick_extent(g, trial, {1, 50, 4096}, 1, 300);
    positions = random_ids(g, tokens, rows);
    const double attention = 0.9 + 0.4 * g.uniform01_d();
    cos = tensor<T>(shape{rows, half});
    sin = tensor<T>(shape{rows, half});
    for (index_t r = 0; r < rows; ++r) {
      for (index_t i = 0; i < half; ++i) {
        const double angle = double(r) * std::pow(10000.0, -double(2 * i) / double(2 * half));
        cos(r, i) = static_cast<T>(attention * std::cos(angle));
        sin(r, i) = static_cast<T>(attention * std::sin(angle));
      }
    }
  }
  shape x_shape() const { return shape{tokens, heads, head_dim}; }
  tensors<T> inputs(rng& g) const { return {random_tensor<T>(g, x_shape())}; }
  template <Backend B>
  tensors<T> forward(B& be, const tensors<T>& in) const {
    tensors<T> out{in_place ? in[0] : poisoned<T>(x_shape())};
    rope_forward<B, T>(be, in_place ? out[0].view() : in[0].view(), positions.view(), cos, sin, layout, out[0].view());
    return out;
  }
  template <Backend B>
  void backward(B& be, const tensors<T>&, const tensors<T>& dout, tensors<T>& grads) const {
    if (in_place) copy<T, T>(dout[0].view(), grads[0].view());
    rope_backward<B, T>(be, in_place ? grads[0].view() : dout[0].view(), positions.view(), cos, sin, layout,
                        grads[0].view());
  }
};

}  // namespace lsk::testing

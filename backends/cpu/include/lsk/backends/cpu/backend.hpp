// lsk/backends/cpu/backend.hpp: the everyday CPU backend (Eigen 3.4 + OpenMP).
//
// Algorithms: matrix products through gemm.hpp (Eigen or BLAS); every other op
// processes independent rows (or contiguous chunks) in parallel with OpenMP,
// each row with Eigen's vectorised array expressions.
// Numerics: element-wise math in the input precision; per-row reductions
// (RMS, softmax sums, cross-entropy log-sum-exp) accumulate in the input
// precision with Eigen's SIMD tree reduction, whole-tensor reductions (sum,
// sum_squares) accumulate per-thread partials in double. exp uses Eigen's
// vectorised exp (a few ulp). Softmax-like ops subtract the row maximum.
// RoPE rotates each pair in the input precision from the (cos, sin) table row.
// Tolerances against the reference backend are in lsk/testing/conformance.hpp.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "lsk/backends/cpu/gemm.hpp"
#include "lsk/backends/cpu/parallel.hpp"
#include "lsk/concepts/backend.hpp"
#include "lsk/core/subnormal.hpp"

namespace lsk::backends {

struct cpu_options {
  int threads = 0;  // 0: OpenMP's default (OMP_NUM_THREADS or all cores)
  gemm_engine gemm = blas_available() ? gemm_engine::blas : gemm_engine::eigen;
};

class cpu {
 public:
  static constexpr std::string_view name = "cpu";
  static constexpr memory_space memory = memory_space::host;

  cpu() : cpu(cpu_options{}) {}
  explicit cpu(cpu_options options) : options_(options) { cpu_detail::set_threads(options.threads); }

  const cpu_options& options() const { return options_; }
  static int threads() { return cpu_detail::max_threads(); }

  bool supports(op_kind, dtype dt) const { return dt == dtype::f32 || dt == dtype::f64; }

  template <real_scalar T>
  void gemm(const gemm_problem<T>& g) {
    cpu_detail::gemm(options_.gemm, g);
  }

  template <real_scalar T>
  void embedding_forward(const_view<std::int32_t> ids, const_view<T> table, tensor_view<T> out) {
    const index_t dim = table.dim(1);
    cpu_detail::parallel_rows(ids.numel(), dim, [&](index_t t) {
      const T* row = table.data() + ids.data()[t] * dim;
      std::copy(row, row + dim, out.data() + t * dim);
    });
  }

  // Scatter-add: parallel over columns so that repeated ids never race.
  template <real_scalar T>
  void embedding_backward(const_view<std::int32_t> ids, const_view<T> dout, tensor_view<T> dtable) {
    const index_t dim = dtable.dim(1), n = ids.numel();
    // Two column blocks per thread (at least 64 columns, multiples of 16), so
    // that each thread streams long contiguous pieces of every row (fixed
    // 64-column blocks reached 40 GB/s at dim 4096, these 75). With one block
    // per thread the threads wrote the two sides of a block boundary row by
    // row at the same time and ran 1.5x slower (a shared cache line); with
    // two, a thread's neighbouring blocks are done at different times.
    const index_t parts = std::clamp<index_t>(dim / 64, 1, 2 * cpu_detail::max_threads());
    const index_t block = (dim / parts + 15) / 16 * 16;
    const index_t blocks = (dim + block - 1) / block;
    cpu_detail::parallel_rows(blocks, n * block, [&](index_t b) {
      const index_t j0 = b * block, j1 = std::min(dim, j0 + block);
      for (index_t t = 0; t < n; ++t) {
        T* dst = dtable.data() + ids.data()[t] * dim;
        const T* src = dout.data() + t * dim;
        for (index_t j = j0; j < j1; ++j) dst[j] += src[j];
      }
    });
  }

  template <real_scalar T>
  void rmsnorm_forward(const_view<T> x, const_view<T> w, T eps, tensor_view<T> y, tensor_view<T> rstd) {
    const index_t d = x.dim(-1);
    const auto wv = vec(w.data(), d);
    cpu_detail::parallel_rows(x.extents().rows(), d, [&](index_t r) {
      const auto xr = vec(x.data() + r * d, d);
      const T inv = T(1) / std::sqrt(xr.square().sum() / T(d) + eps);
      rstd.data()[r] = inv;
      vec(y.data() + r * d, d) = xr * inv * wv;
    });
  }

  template <real_scalar T>
  void rmsnorm_backward(const_view<T> dy, const_view<T> x, const_view<T> w, const_view<T> rstd, tensor_view<T> dx,
                        tensor_view<T> dw) {
    const index_t d = x.dim(-1), rows = x.extents().rows();
    const auto wv = vec(w.data(), d);
    // One pass over dy and x: the rows in a fixed number of contiguous groups,
    // each writing its rows of dx and summing its share of dw (dy * x * rstd)
    // into its own partial; the partials are added to dw in group order, so
    // the result does not depend on the thread count. (A second pass over dy
    // and x for dw made the op 1.5x slower at 4096 x 4096.)
    const index_t groups = std::min<index_t>(rows, 32);
    std::vector<T> partial(static_cast<std::size_t>(groups * d));
    cpu_detail::parallel_rows(groups, (rows / std::max<index_t>(groups, 1) + 1) * d, [&](index_t gi) {
      auto acc = vec(partial.data() + gi * d, d);
      acc.setZero();
      for (index_t r = rows * gi / groups, r1 = rows * (gi + 1) / groups; r < r1; ++r) {
        const auto xr = vec(x.data() + r * d, d);
        const auto dyr = vec(dy.data() + r * d, d);
        const auto g = dyr * wv;
        const T inv = rstd.data()[r];
        const T coef = inv * inv * (g * xr).sum() / T(d);
        vec(dx.data() + r * d, d) = inv * (g - xr * coef);
        acc += dyr * xr * inv;
      }
    });
    constexpr index_t block = 256;
    cpu_detail::parallel_rows((d + block - 1) / block, groups * block, [&](index_t b) {
      const index_t j0 = b * block, len = std::min(d, j0 + block) - j0;
      auto out = vec(dw.data() + j0, len);
      for (index_t gi = 0; gi < groups; ++gi) out += vec(partial.data() + gi * d + j0, len);
    });
  }

  template <real_scalar T>
  void silu_forward(const_view<T> x, tensor_view<T> y) {
    for_chunks(x.numel(), [&](index_t i0, index_t len) {
      assign_elementwise(y.data() + i0, len, [&](index_t o, index_t n, auto& e) {
        const auto xv = vec(x.data() + i0 + o, n);
        e = xv / (T(1) + (-xv).exp());
      });
    });
  }

  template <real_scalar T>
  void silu_backward(const_view<T> x, const_view<T> dy, tensor_view<T> dx) {
    for_chunks(x.numel(), [&](index_t i0, index_t len) {
      for_sigmoid_blocks(x.data() + i0, len, [&](index_t o, index_t n, const auto& s) {
        const auto xv = vec(x.data() + i0 + o, n);
        vec(dx.data() + i0 + o, n) = vec(dy.data() + i0 + o, n) * s * (T(1) + xv * (T(1) - s));
      });
    });
  }

  template <real_scalar T>
  void swiglu_forward(const_view<T> gate, const_view<T> up, tensor_view<T> y) {
    for_chunks(gate.numel(), [&](index_t i0, index_t len) {
      assign_elementwise(y.data() + i0, len, [&](index_t o, index_t n, auto& e) {
        const auto g = vec(gate.data() + i0 + o, n);
        e = g / (T(1) + (-g).exp()) * vec(up.data() + i0 + o, n);
      });
    });
  }

  template <real_scalar T>
  void swiglu_backward(const_view<T> gate, const_view<T> up, const_view<T> dy, tensor_view<T> dgate,
                       tensor_view<T> dup) {
    for_chunks(gate.numel(), [&](index_t i0, index_t len) {
      for_sigmoid_blocks(gate.data() + i0, len, [&](index_t o, index_t n, const auto& s) {
        const auto g = vec(gate.data() + i0 + o, n);
        const auto d = vec(dy.data() + i0 + o, n);
        vec(dgate.data() + i0 + o, n) = d * vec(up.data() + i0 + o, n) * s * (T(1) + g * (T(1) - s));
        vec(dup.data() + i0 + o, n) = d * g * s;
      });
    });
  }

  template <real_scalar T>
  void softmax_forward(const_view<T> x, T scale, tensor_view<T> y) {
    const index_t n = x.dim(-1);
    cpu_detail::parallel_rows(x.extents().rows(), n,
                              [&](index_t r) { softmax_row(x.data() + r * n, n, n, scale, y.data() + r * n); });
  }

  template <real_scalar T>
  void causal_softmax_forward(const_view<T> x, T scale, tensor_view<T> y) {
    const index_t keys = x.dim(-1), queries = x.dim(-2);
    cpu_detail::parallel_rows(x.extents().rows(), keys, [&](index_t r) {
      const index_t visible = r % queries + (keys - queries) + 1;
      softmax_row(x.data() + r * keys, keys, visible, scale, y.data() + r * keys);
    });
  }

  template <real_scalar T>
  void softmax_backward(const_view<T> y, const_view<T> dy, T scale, tensor_view<T> dx) {
    const index_t n = y.dim(-1);
    cpu_detail::parallel_rows(y.extents().rows(), n, [&](index_t r) {
      const auto yr = vec(y.data() + r * n, n);
      const auto dyr = vec(dy.data() + r * n, n);
      const T dot = (yr * dyr).sum();
      vec(dx.data() + r * n, n) = scale * yr * (dyr - dot);
    });
  }

  template <real_scalar T>
  double cross_entropy_forward(const_view<T> logits, const_view<std::int32_t> targets, const_view<std::uint8_t> mask,
                               tensor_view<T> lse) {
    const index_t v = logits.dim(1), rows = logits.dim(0);
    cpu_detail::parallel_rows(rows, v, [&](index_t r) {
      const auto row = vec(logits.data() + r * v, v);
      const T mx = row.maxCoeff();
      lse.data()[r] = mx + std::log((row - mx).exp().sum());
    });
    double total = 0.0;
    for (index_t r = 0; r < rows; ++r) {
      if (mask.data()[r] != 0) total += double(lse.data()[r]) - double(logits.data()[r * v + targets.data()[r]]);
    }
    return total;
  }

  template <real_scalar T>
  void cross_entropy_backward(const_view<T> logits, const_view<std::int32_t> targets, const_view<std::uint8_t> mask,
                              const_view<T> lse, T scale, tensor_view<T> dlogits) {
    const index_t v = logits.dim(1);
    cpu_detail::parallel_rows(logits.dim(0), v, [&](index_t r) {
      T* out = dlogits.data() + r * v;
      if (mask.data()[r] == 0) {
        std::fill(out, out + v, T(0));
        return;
      }
      const T row_lse = lse.data()[r];
      assign_elementwise(out, v, [&](index_t o, index_t n, auto& e) {
        e = scale * (vec(logits.data() + r * v + o, n) - row_lse).exp();
      });
      out[targets.data()[r]] -= scale;
    });
  }

  template <real_scalar T>
  void add(const_view<T> a, const_view<T> b, tensor_view<T> y) {
    for_chunks(a.numel(), [&](index_t i0, index_t len) {
      vec(y.data() + i0, len) = vec(a.data() + i0, len) + vec(b.data() + i0, len);
    });
  }

  template <real_scalar T>
  void mul(const_view<T> a, const_view<T> b, tensor_view<T> y) {
    for_chunks(a.numel(), [&](index_t i0, index_t len) {
      vec(y.data() + i0, len) = vec(a.data() + i0, len) * vec(b.data() + i0, len);
    });
  }

  template <real_scalar T>
  void scale(const_view<T> x, T alpha, tensor_view<T> y) {
    for_chunks(x.numel(), [&](index_t i0, index_t len) { vec(y.data() + i0, len) = alpha * vec(x.data() + i0, len); });
  }

  template <real_scalar T>
  void axpy(T alpha, const_view<T> x, tensor_view<T> y) {
    for_chunks(x.numel(), [&](index_t i0, index_t len) { vec(y.data() + i0, len) += alpha * vec(x.data() + i0, len); });
  }

  // In T, element by element over the threads' chunks.
  template <real_scalar T>
  void adamw_update(tensor_view<T> param, const_view<T> grad, tensor_view<T> m, tensor_view<T> v,
                    const adamw_coefficients<T>& c) {
    T* p = param.data();
    const T* g = grad.data();
    T* mm = m.data();
    T* vv = v.data();
    for_chunks(param.numel(), [&](index_t i0, index_t len) {
      for (index_t i = i0; i < i0 + len; ++i) {
        const T gi = g[i] * c.grad_scale;
        mm[i] = c.beta1 * mm[i] + (T(1) - c.beta1) * gi;
        vv[i] = c.beta2 * vv[i] + (T(1) - c.beta2) * gi * gi;
        p[i] = p[i] * c.decay_factor - c.step_size * mm[i] / (std::sqrt(vv[i]) * c.inv_sqrt_c2 + c.eps);
      }
    });
  }

  template <real_scalar T>
  void fill(tensor_view<T> y, T value) {
    for_chunks(y.numel(), [&](index_t i0, index_t len) { vec(y.data() + i0, len).setConstant(value); });
  }

  template <real_scalar T>
  double sum(const_view<T> x) {
    return reduce_chunks(x.numel(), [&](index_t i0, index_t len) { return double(sum_by_index(x.data() + i0, len)); });
  }

  template <real_scalar T>
  double sum_squares(const_view<T> x) {
    return reduce_chunks(x.numel(), [&](index_t i0, index_t len) { return sum_squares_double(x.data() + i0, len); });
  }

  template <real_scalar T>
  double max_abs(const_view<T> x) {
    double m = 0.0;
    for (index_t i0 = 0; i0 < x.numel(); i0 += chunk) {
      m = std::max(m, double(vec(x.data() + i0, std::min(chunk, x.numel() - i0)).abs().maxCoeff()));
    }
    return m;
  }

  template <real_scalar T>
  void sum_rows(const_view<T> x, tensor_view<T> y) {
    const index_t rows = x.dim(0), n = x.dim(1);
    constexpr index_t block = 256;
    cpu_detail::parallel_rows((n + block - 1) / block, rows * block, [&](index_t b) {
      const index_t j0 = b * block, len = std::min(n, j0 + block) - j0;
      Eigen::Array<double, Eigen::Dynamic, 1> acc = Eigen::Array<double, Eigen::Dynamic, 1>::Zero(len);
      for (index_t r = 0; r < rows; ++r) acc += vec(x.data() + r * n + j0, len).template cast<double>();
      vec(y.data() + j0, len) = acc.template cast<T>();
    });
  }

  template <real_scalar T>
  void broadcast_rows(const_view<T> row, tensor_view<T> y) {
    const index_t n = y.dim(1);
    cpu_detail::parallel_rows(y.dim(0), n, [&](index_t r) { std::copy(row.data(), row.data() + n, y.data() + r * n); });
  }

  // RoPE: parallel over tokens; each pair is a two-term expression in T, read
  // before it is written, so y may be x (in place).
  template <real_scalar T>
  void rope_forward(const_view<T> x, const_view<std::int32_t> positions, const_view<T> cos, const_view<T> sin,
                    rope_layout layout, tensor_view<T> y) {
    rope_rotate<false>(x, positions, cos, sin, layout, y);
  }

  template <real_scalar T>
  void rope_backward(const_view<T> dy, const_view<std::int32_t> positions, const_view<T> cos, const_view<T> sin,
                     rope_layout layout, tensor_view<T> dx) {
    rope_rotate<true>(dy, positions, cos, sin, layout, dx);
  }

 private:
  static constexpr index_t chunk = 1 << 14;

  template <class T>
  static auto vec(T* p, index_t n) {
    using V = std::remove_const_t<T>;
    if constexpr (std::is_const_v<T>) {
      return Eigen::Map<const Eigen::Array<V, Eigen::Dynamic, 1>>(p, n);
    } else {
      return Eigen::Map<Eigen::Array<V, Eigen::Dynamic, 1>>(p, n);
    }
  }

  // body(i0, len) over contiguous chunks of [0, n), in parallel when large.
  template <class Body>
  static void for_chunks(index_t n, Body&& body) {
    const index_t chunks = (n + chunk - 1) / chunk;
    cpu_detail::parallel_rows(chunks, chunk, [&](index_t c) { body(c * chunk, std::min(chunk, n - c * chunk)); });
  }

  // Sum of body(i0, len) over chunks; partials combined in a fixed order so
  // the result does not depend on the thread count.
  template <class Body>
  static double reduce_chunks(index_t n, Body&& body) {
    const index_t chunks = (n + chunk - 1) / chunk;
    std::vector<double> partial(static_cast<std::size_t>(chunks));
    cpu_detail::parallel_rows(chunks, chunk, [&](index_t c) {
      partial[static_cast<std::size_t>(c)] = body(c * chunk, std::min(chunk, n - c * chunk));
    });
    double s = 0.0;
    for (double p : partial) s += p;
    return s;
  }

  // s = sigmoid(g) over blocks of a chunk, each block in an L1-resident stack
  // buffer, then body(offset, length, s): the sigmoid is computed once and
  // reused by the gradient expressions (evaluating it into a chunk-sized heap
  // temporary made silu_backward 1.7x slower with AVX-512).
  static constexpr index_t sigmoid_block = 512;
  // y[0, n) = an element-wise expression with every element made by the same
  // Eigen functions whatever y's alignment. Eigen evaluates the elements before
  // a destination's first aligned one, and those after its last whole packet,
  // with its scalar functions, whose exp can differ from its vector exp in the
  // last bit: written to y directly, results would depend on where the heap put
  // y. body(offset, length, out) assigns elements [offset, offset + length) of
  // the expression to out, a 64-byte aligned map. Short rows (n < 256) are made
  // in an aligned stack buffer and copied (their scalar tail then depends on n
  // alone). Longer ones: the 64-byte aligned middle, a whole number of 64-byte
  // windows, is written directly, and the few elements before and after it are
  // copied from the expression made over the first and the last whole window
  // (element-wise, so an element's value does not depend on its window; both
  // windows are made before the middle is written, so y may be the input).
  template <class T, class Body>
  static void assign_elementwise(T* y, index_t n, Body&& body) {
    using aligned_map = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Aligned64>;
    constexpr index_t window = 64 / static_cast<index_t>(sizeof(T));
    constexpr index_t short_row = 16 * window;
    if (n < short_row) {
      alignas(64) T buffer[short_row];
      aligned_map e(buffer, n);
      body(0, n, e);
      std::copy(buffer, buffer + n, y);
      return;
    }
    const auto misalignment = static_cast<index_t>(reinterpret_cast<std::uintptr_t>(y) % 64);
    const index_t head = misalignment == 0 ? 0 : (64 - misalignment) / static_cast<index_t>(sizeof(T));
    const index_t middle = (n - head) / window * window, tail = n - head - middle;
    alignas(64) T first[window], last[window];
    if (head > 0) {
      aligned_map e(first, window);
      body(0, window, e);
    }
    if (tail > 0) {
      aligned_map e(last, window);
      body(n - window, window, e);
    }
    aligned_map e(y + head, middle);
    body(head, middle, e);
    std::copy(first, first + head, y);
    std::copy(last + window - tail, last + window, y + head + middle);
  }

  template <class T, class Body>
  static void for_sigmoid_blocks(const T* g, index_t len, Body&& body) {
    alignas(64) T buffer[sigmoid_block];
    for (index_t o = 0; o < len; o += sigmoid_block) {
      const index_t n = std::min(sigmoid_block, len - o);
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Aligned64> s(buffer, n);
      s = T(1) / (T(1) + (-vec(g + o, n)).exp());
      body(o, n, s);
    }
  }

  // Sum of f(p[i]) over i < n in an order fixed by n alone: 16 running sums
  // from element 0 (independent accumulators, which the compiler vectorises),
  // then the tail, then the 16 sums in order. Eigen's sum() of a Map starts its
  // vector lanes at the first aligned element, so its rounding would depend on
  // where the heap put the data; its cast<double>().square().sum() runs scalar
  // (9x slower with AVX-512).
  template <class Acc, class T, class F>
  static Acc sum_in_lanes(const T* p, index_t n, F f) {
    constexpr index_t lanes = 16;
    Acc acc[lanes] = {};
    index_t i = 0;
    for (; i + lanes <= n; i += lanes) {
      for (index_t j = 0; j < lanes; ++j) acc[j] += f(p[i + j]);
    }
    Acc s = Acc(0);
    for (; i < n; ++i) s += f(p[i]);
    for (Acc a : acc) s += a;
    return s;
  }
  template <class T>
  static double sum_squares_double(const T* p, index_t n) {
    return sum_in_lanes<double>(p, n, [](T x) {
      const auto v = static_cast<double>(x);
      return v * v;
    });
  }
  template <class T>
  static T sum_by_index(const T* p, index_t n) {
    return sum_in_lanes<T>(p, n, [](T x) { return x; });
  }

  template <class T>
  static void softmax_row(const T* x, index_t n, index_t visible, T scale, T* y) {
    const auto xr = vec(x, visible);
    auto yr = vec(y, visible);
    const T mx = (scale * xr).maxCoeff();
    assign_elementwise(y, visible, [&](index_t o, index_t len, auto& e) { e = (scale * vec(x + o, len) - mx).exp(); });
    flush_subnormal_exp(y, visible);  // masked (-inf) scores -> exactly 0
    yr /= sum_by_index(y, visible);
    std::fill(y + visible, y + n, T(0));
  }

  // y[t, h, :] = x[t, h, :] turned by the angle of positions[t] (Transpose: by minus that angle).
  template <bool Transpose, class T>
  static void rope_rotate(const_view<T> x, const_view<std::int32_t> positions, const_view<T> cos, const_view<T> sin,
                          rope_layout layout, tensor_view<T> y) {
    const index_t heads = x.dim(1), d = x.dim(2), half = cos.dim(1);
    const index_t stride_a = layout == rope_layout::rotate_half ? 1 : 2;
    const index_t offset_b = layout == rope_layout::rotate_half ? half : 1;
    cpu_detail::parallel_rows(x.dim(0), heads * d, [&](index_t t) {
      const T* c = cos.data() + index_t{positions.data()[t]} * half;
      const T* s = sin.data() + index_t{positions.data()[t]} * half;
      for (index_t h = 0; h < heads; ++h) {
        const T* xh = x.data() + (t * heads + h) * d;
        T* yh = y.data() + (t * heads + h) * d;
        for (index_t i = 0; i < half; ++i) {
          const index_t ia = i * stride_a, ib = ia + offset_b;
          const T a = xh[ia], b = xh[ib];
          const T si = Transpose ? -s[i] : s[i];
          yh[ia] = a * c[i] - b * si;
          yh[ib] = b * c[i] + a * si;
        }
        if (yh != xh) std::copy(xh + 2 * half, xh + d, yh + 2 * half);
      }
    });
  }

  cpu_options options_;
};

static_assert(Backend<cpu>);
static_assert(backend_for<cpu, double>);

}  // namespace lsk::backends

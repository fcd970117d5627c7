// lsk/backends/reference/backend.hpp: the reference backend, the oracle.
//
// Algorithm: the textbook definition of each op, in plain loops, one thread.
// Numerics: every sum and every intermediate is carried in double (long double
// for f64 inputs' dot products is not needed: double accumulation of f64 data
// is the same precision the finite-difference checks assume). Softmax-like ops
// subtract the row maximum before exp. RoPE rotates each pair in double from
// the (cos, sin) table row of the token's position. Slow by design; never
// optimise it: other backends are judged against it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "lsk/concepts/backend.hpp"

namespace lsk::backends {

class reference {
 public:
  static constexpr std::string_view name = "reference";
  static constexpr memory_space memory = memory_space::host;

  bool supports(op_kind, dtype dt) const { return dt == dtype::f32 || dt == dtype::f64; }

  template <real_scalar T>
  void gemm(const gemm_problem<T>& g) {
    for (index_t b = 0; b < g.batch; ++b) {
      const T* a = g.a + b * g.stride_a;
      const T* bm = g.b + b * g.stride_b;
      T* c = g.c + b * g.stride_c;
      for (index_t i = 0; i < g.m; ++i) {
        for (index_t j = 0; j < g.n; ++j) {
          double acc = 0.0;
          for (index_t p = 0; p < g.k; ++p) {
            const double av = g.trans_a ? a[p * g.lda + i] : a[i * g.lda + p];
            const double bv = g.trans_b ? bm[j * g.ldb + p] : bm[p * g.ldb + j];
            acc += av * bv;
          }
          T& out = c[i * g.ldc + j];
          const double prior = g.beta == T(0) ? 0.0 : static_cast<double>(g.beta) * static_cast<double>(out);
          out = static_cast<T>(static_cast<double>(g.alpha) * acc + prior);
        }
      }
    }
  }

  template <real_scalar T>
  void embedding_forward(const_view<std::int32_t> ids, const_view<T> table, tensor_view<T> out) {
    const index_t dim = table.dim(1);
    for (index_t t = 0; t < ids.numel(); ++t) {
      const T* row = table.data() + ids.data()[t] * dim;
      std::copy(row, row + dim, out.data() + t * dim);
    }
  }

  template <real_scalar T>
  void embedding_backward(const_view<std::int32_t> ids, const_view<T> dout, tensor_view<T> dtable) {
    const index_t dim = dtable.dim(1);
    for (index_t t = 0; t < ids.numel(); ++t) {
      T* row = dtable.data() + ids.data()[t] * dim;
      for (index_t j = 0; j < dim; ++j) row[j] = static_cast<T>(double(row[j]) + double(dout.data()[t * dim + j]));
    }
  }

  template <real_scalar T>
  void rmsnorm_forward(const_view<T> x, const_view<T> w, T eps, tensor_view<T> y, tensor_view<T> rstd) {
    const index_t d = x.dim(-1), rows = x.extents().rows();
    for (index_t r = 0; r < rows; ++r) {
      const T* xr = x.data() + r * d;
      double ss = 0.0;
      for (index_t j = 0; j < d; ++j) ss += double(xr[j]) * double(xr[j]);
      const double inv = 1.0 / std::sqrt(ss / double(d) + double(eps));
      rstd.data()[r] = static_cast<T>(inv);
      for (index_t j = 0; j < d; ++j) y.data()[r * d + j] = static_cast<T>(double(xr[j]) * inv * double(w.data()[j]));
    }
  }

  template <real_scalar T>
  void rmsnorm_backward(const_view<T> dy, const_view<T> x, const_view<T> w, const_view<T> rstd, tensor_view<T> dx,
                        tensor_view<T> dw) {
    const index_t d = x.dim(-1), rows = x.extents().rows();
    for (index_t r = 0; r < rows; ++r) {
      const T* xr = x.data() + r * d;
      const T* dyr = dy.data() + r * d;
      const double inv = rstd.data()[r];
      double dot = 0.0;  // sum_j (dy * w)_j * x_j
      for (index_t j = 0; j < d; ++j) dot += double(dyr[j]) * double(w.data()[j]) * double(xr[j]);
      const double coef = inv * inv * dot / double(d);
      for (index_t j = 0; j < d; ++j) {
        const double g = double(dyr[j]) * double(w.data()[j]);
        dx.data()[r * d + j] = static_cast<T>(inv * (g - double(xr[j]) * coef));
      }
    }
    for (index_t j = 0; j < d; ++j) {
      double acc = dw.data()[j];
      for (index_t r = 0; r < rows; ++r)
        acc += double(dy.data()[r * d + j]) * double(x.data()[r * d + j]) * double(rstd.data()[r]);
      dw.data()[j] = static_cast<T>(acc);
    }
  }

  template <real_scalar T>
  void silu_forward(const_view<T> x, tensor_view<T> y) {
    for (index_t i = 0; i < x.numel(); ++i) {
      const double v = x.data()[i];
      y.data()[i] = static_cast<T>(v * sigmoid(v));
    }
  }

  template <real_scalar T>
  void silu_backward(const_view<T> x, const_view<T> dy, tensor_view<T> dx) {
    for (index_t i = 0; i < x.numel(); ++i)
      dx.data()[i] = static_cast<T>(double(dy.data()[i]) * silu_grad(x.data()[i]));
  }

  template <real_scalar T>
  void swiglu_forward(const_view<T> gate, const_view<T> up, tensor_view<T> y) {
    for (index_t i = 0; i < gate.numel(); ++i) {
      const double g = gate.data()[i];
      y.data()[i] = static_cast<T>(g * sigmoid(g) * double(up.data()[i]));
    }
  }

  template <real_scalar T>
  void swiglu_backward(const_view<T> gate, const_view<T> up, const_view<T> dy, tensor_view<T> dgate,
                       tensor_view<T> dup) {
    for (index_t i = 0; i < gate.numel(); ++i) {
      const double g = gate.data()[i], u = up.data()[i], d = dy.data()[i];
      dgate.data()[i] = static_cast<T>(d * u * silu_grad(g));
      dup.data()[i] = static_cast<T>(d * g * sigmoid(g));
    }
  }

  template <real_scalar T>
  void softmax_forward(const_view<T> x, T scale, tensor_view<T> y) {
    const index_t n = x.dim(-1);
    for (index_t r = 0; r < x.extents().rows(); ++r)
      softmax_row(x.data() + r * n, n, n, double(scale), y.data() + r * n);
  }

  template <real_scalar T>
  void causal_softmax_forward(const_view<T> x, T scale, tensor_view<T> y) {
    const index_t keys = x.dim(-1), queries = x.dim(-2);
    for (index_t r = 0; r < x.extents().rows(); ++r) {
      const index_t visible = r % queries + (keys - queries) + 1;
      softmax_row(x.data() + r * keys, keys, visible, double(scale), y.data() + r * keys);
    }
  }

  template <real_scalar T>
  void softmax_backward(const_view<T> y, const_view<T> dy, T scale, tensor_view<T> dx) {
    const index_t n = y.dim(-1);
    for (index_t r = 0; r < y.extents().rows(); ++r) {
      const T* yr = y.data() + r * n;
      const T* dyr = dy.data() + r * n;
      double dot = 0.0;
      for (index_t j = 0; j < n; ++j) dot += double(yr[j]) * double(dyr[j]);
      for (index_t j = 0; j < n; ++j)
        dx.data()[r * n + j] = static_cast<T>(double(scale) * double(yr[j]) * (double(dyr[j]) - dot));
    }
  }

  template <real_scalar T>
  double cross_entropy_forward(const_view<T> logits, const_view<std::int32_t> targets, const_view<std::uint8_t> mask,
                               tensor_view<T> lse) {
    const index_t v = logits.dim(1);
    double total = 0.0;
    for (index_t r = 0; r < logits.dim(0); ++r) {
      const T* row = logits.data() + r * v;
      double mx = row[0];
      for (index_t j = 1; j < v; ++j) mx = std::max(mx, double(row[j]));
      double s = 0.0;
      for (index_t j = 0; j < v; ++j) s += std::exp(double(row[j]) - mx);
      const double l = mx + std::log(s);
      lse.data()[r] = static_cast<T>(l);
      if (mask.data()[r] != 0) total += l - double(row[targets.data()[r]]);
    }
    return total;
  }

  template <real_scalar T>
  void cross_entropy_backward(const_view<T> logits, const_view<std::int32_t> targets, const_view<std::uint8_t> mask,
                              const_view<T> lse, T scale, tensor_view<T> dlogits) {
    const index_t v = logits.dim(1);
    for (index_t r = 0; r < logits.dim(0); ++r) {
      T* out = dlogits.data() + r * v;
      if (mask.data()[r] == 0) {
        std::fill(out, out + v, T(0));
        continue;
      }
      const T* row = logits.data() + r * v;
      for (index_t j = 0; j < v; ++j) {
        const double p = std::exp(double(row[j]) - double(lse.data()[r]));
        out[j] = static_cast<T>(double(scale) * (p - (j == targets.data()[r] ? 1.0 : 0.0)));
      }
    }
  }

  template <real_scalar T>
  void add(const_view<T> a, const_view<T> b, tensor_view<T> y) {
    for (index_t i = 0; i < a.numel(); ++i) y.data()[i] = static_cast<T>(double(a.data()[i]) + double(b.data()[i]));
  }

  template <real_scalar T>
  void mul(const_view<T> a, const_view<T> b, tensor_view<T> y) {
    for (index_t i = 0; i < a.numel(); ++i) y.data()[i] = static_cast<T>(double(a.data()[i]) * double(b.data()[i]));
  }

  template <real_scalar T>
  void scale(const_view<T> x, T alpha, tensor_view<T> y) {
    for (index_t i = 0; i < x.numel(); ++i) y.data()[i] = static_cast<T>(double(alpha) * double(x.data()[i]));
  }

  template <real_scalar T>
  void axpy(T alpha, const_view<T> x, tensor_view<T> y) {
    for (index_t i = 0; i < x.numel(); ++i)
      y.data()[i] = static_cast<T>(double(y.data()[i]) + double(alpha) * double(x.data()[i]));
  }

  // In double, rounded to T once per stored value.
  template <real_scalar T>
  void adamw_update(tensor_view<T> param, const_view<T> grad, tensor_view<T> m, tensor_view<T> v,
                    const adamw_coefficients<T>& c) {
    for (index_t i = 0; i < param.numel(); ++i) {
      const double g = double(static_cast<T>(double(grad.data()[i]) * double(c.grad_scale)));
      const double mi = double(c.beta1) * double(m.data()[i]) + (1.0 - double(c.beta1)) * g;
      const double vi = double(c.beta2) * double(v.data()[i]) + (1.0 - double(c.beta2)) * g * g;
      m.data()[i] = static_cast<T>(mi);
      v.data()[i] = static_cast<T>(vi);
      param.data()[i] =
          static_cast<T>(double(param.data()[i]) * double(c.decay_factor) -
                         double(c.step_size) * mi / (std::sqrt(vi) * double(c.inv_sqrt_c2) + double(c.eps)));
    }
  }

  template <real_scalar T>
  void fill(tensor_view<T> y, T value) {
    std::fill(y.data(), y.data() + y.numel(), value);
  }

  template <real_scalar T>
  double sum(const_view<T> x) {
    double s = 0.0;
    for (index_t i = 0; i < x.numel(); ++i) s += x.data()[i];
    return s;
  }

  template <real_scalar T>
  double sum_squares(const_view<T> x) {
    double s = 0.0;
    for (index_t i = 0; i < x.numel(); ++i) s += double(x.data()[i]) * double(x.data()[i]);
    return s;
  }

  template <real_scalar T>
  double max_abs(const_view<T> x) {
    double m = 0.0;
    for (index_t i = 0; i < x.numel(); ++i) m = std::max(m, std::abs(double(x.data()[i])));
    return m;
  }

  template <real_scalar T>
  void sum_rows(const_view<T> x, tensor_view<T> y) {
    const index_t rows = x.dim(0), n = x.dim(1);
    for (index_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (index_t r = 0; r < rows; ++r) s += x.data()[r * n + j];
      y.data()[j] = static_cast<T>(s);
    }
  }

  template <real_scalar T>
  void broadcast_rows(const_view<T> row, tensor_view<T> y) {
    const index_t n = y.dim(1);
    for (index_t r = 0; r < y.dim(0); ++r) std::copy(row.data(), row.data() + n, y.data() + r * n);
  }

  // RoPE: each pair (a, b) of a head turns by the table's (cos, sin) row for the
  // token's position, computed in double; backward turns by the opposite angle.
  template <real_scalar T>
  void rope_forward(const_view<T> x, const_view<std::int32_t> positions, const_view<T> cos, const_view<T> sin,
                    rope_layout layout, tensor_view<T> y) {
    rope_rotate(x, positions, cos, sin, layout, 1.0, y);
  }

  template <real_scalar T>
  void rope_backward(const_view<T> dy, const_view<std::int32_t> positions, const_view<T> cos, const_view<T> sin,
                     rope_layout layout, tensor_view<T> dx) {
    rope_rotate(dy, positions, cos, sin, layout, -1.0, dx);
  }

 private:
  static double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }
  static double silu_grad(double v) {
    const double s = sigmoid(v);
    return s * (1.0 + v * (1.0 - s));
  }

  // y[0..visible) = softmax(scale * x[0..visible)), y[visible..n) = 0.
  template <class T>
  static void softmax_row(const T* x, index_t n, index_t visible, double scale, T* y) {
    double mx = -INFINITY;
    for (index_t j = 0; j < visible; ++j) mx = std::max(mx, scale * double(x[j]));
    double s = 0.0;
    for (index_t j = 0; j < visible; ++j) s += std::exp(scale * double(x[j]) - mx);
    for (index_t j = 0; j < visible; ++j) y[j] = static_cast<T>(std::exp(scale * double(x[j]) - mx) / s);
    for (index_t j = visible; j < n; ++j) y[j] = T(0);
  }

  // y[t, h, :] = rotation of x[t, h, :] by (cos, sign * sin)[positions[t]]; y may be x.
  template <class T>
  static void rope_rotate(const_view<T> x, const_view<std::int32_t> positions, const_view<T> cos, const_view<T> sin,
                          rope_layout layout, double sign, tensor_view<T> y) {
    const index_t tokens = x.dim(0), heads = x.dim(1), d = x.dim(2), half = cos.dim(1);
    for (index_t t = 0; t < tokens; ++t) {
      const index_t row = positions.data()[t];
      for (index_t h = 0; h < heads; ++h) {
        const T* xh = x.data() + (t * heads + h) * d;
        T* yh = y.data() + (t * heads + h) * d;
        for (index_t i = 0; i < half; ++i) {
          const index_t ia = layout == rope_layout::rotate_half ? i : 2 * i;
          const index_t ib = layout == rope_layout::rotate_half ? i + half : 2 * i + 1;
          const double c = cos.data()[row * half + i], s = sign * double(sin.data()[row * half + i]);
          const double a = xh[ia], b = xh[ib];
          yh[ia] = static_cast<T>(a * c - b * s);
          yh[ib] = static_cast<T>(b * c + a * s);
        }
        for (index_t j = 2 * half; j < d; ++j) yh[j] = xh[j];
      }
    }
  }
};

static_assert(Backend<reference>);
static_assert(backend_for<reference, double>);

}  // namespace lsk::backends

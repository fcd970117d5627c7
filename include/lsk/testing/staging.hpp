// lsk/testing/staging.hpp: runs a device-memory backend on host tensors, so
// that the op cases (op_cases.hpp, written with host tensors) test it as they
// are.
//
// staged<B> is a host-memory backend that forwards every op to a device
// backend B. For each call it copies every argument view into device memory
// that B allocates, runs B's member on the device copies, copies the outputs
// back (waiting for the device) and frees the copies. Outputs are copied in
// too, so NaN poison and the starting values of accumulated gradients reach
// the device as they are; a view inside another view of the same call (in-place
// ops: y = x) is staged once, so aliasing is kept. Host-side argument checks
// (ids, targets, positions) run as for any host backend, before the copies.
// B provides the raw memory primitives of the DeviceMemory concept
// (lsk/concepts/backend.hpp).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "lsk/concepts/backend.hpp"

namespace lsk::testing {

namespace detail {

// Device copies of the host ranges of one call; outputs are copied back by finish().
template <class B>
class staging_area {
 public:
  explicit staging_area(B& be) : be_(be) {}
  ~staging_area() {
    for (const auto& r : ranges_) be_.device_free(r.device);
  }
  staging_area(const staging_area&) = delete;
  staging_area& operator=(const staging_area&) = delete;

  // The device address of count elements at host; count == 0 gives nullptr.
  template <class T>
  T* place(const T* host, std::size_t count, bool output) {
    if (count == 0 || host == nullptr) return nullptr;
    const auto begin = reinterpret_cast<std::uintptr_t>(host);
    const std::size_t bytes = count * sizeof(T);
    for (auto& r : ranges_) {
      if (begin >= r.begin && begin + bytes <= r.begin + r.bytes) {
        r.output = r.output || output;
        return reinterpret_cast<T*>(static_cast<std::byte*>(r.device) + (begin - r.begin));
      }
    }
    ranges_.push_back({begin, bytes, nullptr, output});
    ranges_.back().device = be_.device_allocate(bytes);
    be_.copy_to_device(ranges_.back().device, host, bytes);
    return static_cast<T*>(ranges_.back().device);
  }

  template <class T>
  const_view<T> in(const_view<T> v) {
    return const_view<T>(place(v.data(), static_cast<std::size_t>(v.numel()), false), v.extents());
  }
  template <class T>
  tensor_view<T> out(tensor_view<T> v) {
    return tensor_view<T>(place<T>(v.data(), static_cast<std::size_t>(v.numel()), true), v.extents());
  }

  // Copies every range an output lives in back to the host (waits for the device).
  void finish() {
    for (const auto& r : ranges_) {
      if (r.output) be_.copy_to_host(reinterpret_cast<void*>(r.begin), r.device, r.bytes);
    }
  }

 private:
  struct range {
    std::uintptr_t begin;
    std::size_t bytes;
    void* device;
    bool output;
  };
  B& be_;
  std::vector<range> ranges_;
};

// Elements from the first to one past the last element of a batch of
// row-major (rows, cols) matrices with row pitch ld and batch stride stride.
inline std::size_t matrix_span(index_t batch, index_t rows, index_t cols, index_t ld, index_t stride) {
  if (batch <= 0 || rows <= 0 || cols <= 0) return 0;
  return static_cast<std::size_t>((batch - 1) * stride + (rows - 1) * ld + cols);
}

}  // namespace detail

template <Backend B>
requires DeviceMemory<B>
class staged {
 public:
  static constexpr std::string_view name = B::name;
  static constexpr memory_space memory = memory_space::host;

  explicit staged(B& device_backend) : be_(device_backend) {}

  bool supports(op_kind op, dtype dt) const { return be_.supports(op, dt); }

  template <real_scalar T>
  requires backend_for<B, T>
  void gemm(const gemm_problem<T>& g) {
    area s(be_);
    gemm_problem<T> d = g;
    d.a = s.place(g.a, detail::matrix_span(g.batch, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k, g.lda, g.stride_a),
                  false);
    d.b = s.place(g.b, detail::matrix_span(g.batch, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n, g.ldb, g.stride_b),
                  false);
    d.c = s.place(g.c, detail::matrix_span(g.batch, g.m, g.n, g.ldc, g.stride_c), true);
    be_.gemm(d);
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void embedding_forward(const_view<std::int32_t> ids, const_view<T> table, tensor_view<T> out) {
    area s(be_);
    be_.embedding_forward(s.in(ids), s.in(table), s.out(out));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void embedding_backward(const_view<std::int32_t> ids, const_view<T> dout, tensor_view<T> dtable) {
    area s(be_);
    be_.embedding_backward(s.in(ids), s.in(dout), s.out(dtable));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void rmsnorm_forward(const_view<T> x, const_view<T> w, T eps, tensor_view<T> y, tensor_view<T> rstd) {
    area s(be_);
    be_.rmsnorm_forward(s.in(x), s.in(w), eps, s.out(y), s.out(rstd));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void rmsnorm_backward(const_view<T> dy, const_view<T> x, const_view<T> w, const_view<T> rstd, tensor_view<T> dx,
                        tensor_view<T> dw) {
    area s(be_);
    be_.rmsnorm_backward(s.in(dy), s.in(x), s.in(w), s.in(rstd), s.out(dx), s.out(dw));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void silu_forward(const_view<T> x, tensor_view<T> y) {
    area s(be_);
    be_.silu_forward(s.in(x), s.out(y));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void silu_backward(const_view<T> x, const_view<T> dy, tensor_view<T> dx) {
    area s(be_);
    be_.silu_backward(s.in(x), s.in(dy), s.out(dx));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void swiglu_forward(const_view<T> gate, const_view<T> up, tensor_view<T> y) {
    area s(be_);
    be_.swiglu_forward(s.in(gate), s.in(up), s.out(y));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void swiglu_backward(const_view<T> gate, const_view<T> up, const_view<T> dy, tensor_view<T> dgate,
                       tensor_view<T> dup) {
    area s(be_);
    be_.swiglu_backward(s.in(gate), s.in(up), s.in(dy), s.out(dgate), s.out(dup));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void softmax_forward(const_view<T> x, T scale, tensor_view<T> y) {
    area s(be_);
    be_.softmax_forward(s.in(x), scale, s.out(y));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void causal_softmax_forward(const_view<T> x, T scale, tensor_view<T> y) {
    area s(be_);
    be_.causal_softmax_forward(s.in(x), scale, s.out(y));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void softmax_backward(const_view<T> y, const_view<T> dy, T scale, tensor_view<T> dx) {
    area s(be_);
    be_.softmax_backward(s.in(y), s.in(dy), scale, s.out(dx));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  double cross_entropy_forward(const_view<T> logits, const_view<std::int32_t> targets, const_view<std::uint8_t> mask,
                               tensor_view<T> lse) {
    area s(be_);
    const double total = be_.cross_entropy_forward(s.in(logits), s.in(targets), s.in(mask), s.out(lse));
    s.finish();
    return total;
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void cross_entropy_backward(const_view<T> logits, const_view<std::int32_t> targets, const_view<std::uint8_t> mask,
                              const_view<T> lse, T scale, tensor_view<T> dlogits) {
    area s(be_);
    be_.cross_entropy_backward(s.in(logits), s.in(targets), s.in(mask), s.in(lse), scale, s.out(dlogits));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void add(const_view<T> a, const_view<T> b, tensor_view<T> y) {
    area s(be_);
    be_.add(s.in(a), s.in(b), s.out(y));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void mul(const_view<T> a, const_view<T> b, tensor_view<T> y) {
    area s(be_);
    be_.mul(s.in(a), s.in(b), s.out(y));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void scale(const_view<T> x, T alpha, tensor_view<T> y) {
    area s(be_);
    be_.scale(s.in(x), alpha, s.out(y));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void axpy(T alpha, const_view<T> x, tensor_view<T> y) {
    area s(be_);
    be_.axpy(alpha, s.in(x), s.out(y));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void adamw_update(tensor_view<T> param, const_view<T> grad, tensor_view<T> m, tensor_view<T> v,
                    const adamw_coefficients<T>& c) {
    area s(be_);
    be_.adamw_update(s.out(param), s.in(grad), s.out(m), s.out(v), c);
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void fill(tensor_view<T> y, T value) {
    area s(be_);
    be_.fill(s.out(y), value);
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  double sum(const_view<T> x) {
    area s(be_);
    return be_.sum(s.in(x));
  }

  template <real_scalar T>
  requires backend_for<B, T>
  double sum_squares(const_view<T> x) {
    area s(be_);
    return be_.sum_squares(s.in(x));
  }

  template <real_scalar T>
  requires backend_for<B, T>
  double max_abs(const_view<T> x) {
    area s(be_);
    return be_.max_abs(s.in(x));
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void sum_rows(const_view<T> x, tensor_view<T> y) {
    area s(be_);
    be_.sum_rows(s.in(x), s.out(y));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void broadcast_rows(const_view<T> row, tensor_view<T> y) {
    area s(be_);
    be_.broadcast_rows(s.in(row), s.out(y));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void rope_forward(const_view<T> x, const_view<std::int32_t> positions, const_view<T> cos, const_view<T> sin,
                    rope_layout layout, tensor_view<T> y) {
    area s(be_);
    be_.rope_forward(s.in(x), s.in(positions), s.in(cos), s.in(sin), layout, s.out(y));
    s.finish();
  }

  template <real_scalar T>
  requires backend_for<B, T>
  void rope_backward(const_view<T> dy, const_view<std::int32_t> positions, const_view<T> cos, const_view<T> sin,
                     rope_layout layout, tensor_view<T> dx) {
    area s(be_);
    be_.rope_backward(s.in(dy), s.in(positions), s.in(cos), s.in(sin), layout, s.out(dx));
    s.finish();
  }

 private:
  using area = detail::staging_area<B>;
  B& be_;
};

}  // namespace lsk::testing

// lsk/testing/pretend_device.hpp: a device-memory backend that runs on the
// host, for testing device-memory code paths without a GPU.
//
// pretend_device<Host> keeps its "device" memory in separate heap blocks that
// it tracks, refuses every pointer outside them (an lsk::error naming the
// address), and runs host backend Host's members on them. Code that passes
// it host memory, or reads its memory without a copy, fails loudly instead of
// silently working as it would on a host backend; results are Host's, bit for
// bit, so a model trained on pretend_device<cpu> must match one trained on cpu
// exactly. live_blocks counts allocations alive (per Host, over instances).
// pretend_device(offset) starts every block `offset` bytes past a 64-byte
// boundary, so that the same computation can be run at other alignments (a
// result that changes with them depends on where the heap put its operands).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <new>
#include <string_view>

#include "lsk/concepts/backend.hpp"
#include "lsk/core/error.hpp"
#include "lsk/core/tensor_view.hpp"
#include "lsk/ops/gemm_problem.hpp"

namespace lsk::testing {

template <Backend Host>
class pretend_device {
 public:
  static constexpr std::string_view name = "pretend_device";
  static constexpr memory_space memory = memory_space::device;

  pretend_device() = default;
  explicit pretend_device(std::size_t offset) : offset_(offset) {}
  pretend_device(const pretend_device&) = delete;
  pretend_device& operator=(const pretend_device&) = delete;
  ~pretend_device() {
    for (auto& [begin, b] : blocks_) ::operator delete(b.raw, alignment);
  }

  static inline int live_blocks = 0;  // over all instances

  bool supports(op_kind op, dtype dt) const { return host_.supports(op, dt); }

  void* device_allocate(std::size_t bytes) {
    void* raw = ::operator new(bytes + offset_, alignment);
    void* p = static_cast<std::byte*>(raw) + offset_;
    blocks_[reinterpret_cast<std::uintptr_t>(p)] = {bytes, raw};
    ++live_blocks;
    return p;
  }
  void device_free(void* p) noexcept {
    if (p == nullptr) return;
    const auto it = blocks_.find(reinterpret_cast<std::uintptr_t>(p));
    if (it == blocks_.end()) return;
    void* raw = it->second.raw;
    blocks_.erase(it);
    --live_blocks;
    ::operator delete(raw, alignment);
  }
  void copy_to_device(void* dst, const void* src, std::size_t bytes) {
    require_device(dst, bytes);
    std::memcpy(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, std::size_t bytes) {
    require_device(src, bytes);
    std::memcpy(dst, src, bytes);
  }
  void copy_on_device(void* dst, const void* src, std::size_t bytes) {
    require_device(dst, bytes);
    require_device(src, bytes);
    std::memmove(dst, src, bytes);
  }
  void zero_device(void* p, std::size_t bytes) {
    require_device(p, bytes);
    std::memset(p, 0, bytes);
  }

  template <real_scalar T>
  void gemm(const gemm_problem<T>& g) {
    require_device(g.a, 1);
    require_device(g.b, 1);
    require_device(g.c, 1);
    host_.gemm(g);
  }
  template <real_scalar T>
  void embedding_forward(const_view<std::int32_t> ids, const_view<T> table, tensor_view<T> out) {
    host_.embedding_forward(on(ids), on(table), on(out));
  }
  template <real_scalar T>
  void embedding_backward(const_view<std::int32_t> ids, const_view<T> dout, tensor_view<T> dtable) {
    host_.embedding_backward(on(ids), on(dout), on(dtable));
  }
  template <real_scalar T>
  void rmsnorm_forward(const_view<T> x, const_view<T> w, T eps, tensor_view<T> y, tensor_view<T> rstd) {
    host_.rmsnorm_forward(on(x), on(w), eps, on(y), on(rstd));
  }
  template <real_scalar T>
  void rmsnorm_backward(const_view<T> dy, const_view<T> x, const_view<T> w, const_view<T> rstd, tensor_view<T> dx,
                        tensor_view<T> dw) {
    host_.rmsnorm_backward(on(dy), on(x), on(w), on(rstd), on(dx), on(dw));
  }
  template <real_scalar T>
  void silu_forward(const_view<T> x, tensor_view<T> y) {
    host_.silu_forward(on(x), on(y));
  }
  template <real_scalar T>
  void silu_backward(const_view<T> x, const_view<T> dy, tensor_view<T> dx) {
    host_.silu_backward(on(x), on(dy), on(dx));
  }
  template <real_scalar T>
  void swiglu_forward(const_view<T> gate, const_view<T> up, tensor_view<T> y) {
    host_.swiglu_forward(on(gate), on(up), on(y));
  }
  template <real_scalar T>
  void swiglu_backward(const_view<T> gate, const_view<T> up, const_view<T> dy, tensor_view<T> dgate,
                       tensor_view<T> dup) {
    host_.swiglu_backward(on(gate), on(up), on(dy), on(dgate), on(dup));
  }
  template <real_scalar T>
  void softmax_forward(const_view<T> x, T scale, tensor_view<T> y) {
    host_.softmax_forward(on(x), scale, on(y));
  }
  template <real_scalar T>
  void causal_softmax_forward(const_view<T> x, T scale, tensor_view<T> y) {
    host_.causal_softmax_forward(on(x), scale, on(y));
  }
  template <real_scalar T>
  void softmax_backward(const_view<T> y, const_view<T> dy, T scale, tensor_view<T> dx) {
    host_.softmax_backward(on(y), on(dy), scale, on(dx));
  }
  template <real_scalar T>
  double cross_entropy_forward(const_view<T> logits, const_view<std::int32_t> targets, const_view<std::uint8_t> mask,
                               tensor_view<T> lse) {
    return host_.cross_entropy_forward(on(logits), on(targets), on(mask), on(lse));
  }
  template <real_scalar T>
  void cross_entropy_backward(const_view<T> logits, const_view<std::int32_t> targets, const_view<std::uint8_t> mask,
                              const_view<T> lse, T scale, tensor_view<T> dlogits) {
    host_.cross_entropy_backward(on(logits), on(targets), on(mask), on(lse), scale, on(dlogits));
  }
  template <real_scalar T>
  void add(const_view<T> a, const_view<T> b, tensor_view<T> y) {
    host_.add(on(a), on(b), on(y));
  }
  template <real_scalar T>
  void mul(const_view<T> a, const_view<T> b, tensor_view<T> y) {
    host_.mul(on(a), on(b), on(y));
  }
  template <real_scalar T>
  void scale(const_view<T> x, T alpha, tensor_view<T> y) {
    host_.scale(on(x), alpha, on(y));
  }
  template <real_scalar T>
  void axpy(T alpha, const_view<T> x, tensor_view<T> y) {
    host_.axpy(alpha, on(x), on(y));
  }
  template <real_scalar T>
  void adamw_update(tensor_view<T> param, const_view<T> grad, tensor_view<T> m, tensor_view<T> v,
                    const adamw_coefficients<T>& c) {
    host_.adamw_update(on(param), on(grad), on(m), on(v), c);
  }
  template <real_scalar T>
  void fill(tensor_view<T> y, T value) {
    host_.fill(on(y), value);
  }
  template <real_scalar T>
  double sum(const_view<T> x) {
    return host_.sum(on(x));
  }
  template <real_scalar T>
  double sum_squares(const_view<T> x) {
    return host_.sum_squares(on(x));
  }
  template <real_scalar T>
  double max_abs(const_view<T> x) {
    return host_.max_abs(on(x));
  }
  template <real_scalar T>
  void sum_rows(const_view<T> x, tensor_view<T> y) {
    host_.sum_rows(on(x), on(y));
  }
  template <real_scalar T>
  void broadcast_rows(const_view<T> row, tensor_view<T> y) {
    host_.broadcast_rows(on(row), on(y));
  }
  template <real_scalar T>
  void rope_forward(const_view<T> x, const_view<std::int32_t> positions, const_view<T> cos, const_view<T> sin,
                    rope_layout layout, tensor_view<T> y) {
    host_.rope_forward(on(x), on(positions), on(cos), on(sin), layout, on(y));
  }
  template <real_scalar T>
  void rope_backward(const_view<T> dy, const_view<std::int32_t> positions, const_view<T> cos, const_view<T> sin,
                     rope_layout layout, tensor_view<T> dx) {
    host_.rope_backward(on(dy), on(positions), on(cos), on(sin), layout, on(dx));
  }

 private:
  // Throws unless [p, p + bytes) lies in one of this device's blocks.
  void require_device(const void* p, std::size_t bytes) const {
    const auto begin = reinterpret_cast<std::uintptr_t>(p);
    auto it = blocks_.upper_bound(begin);
    if (it != blocks_.begin()) {
      --it;
      if (begin >= it->first && begin + bytes <= it->first + it->second.bytes) return;
    }
    raise<error>("pretend_device: ", bytes, " bytes at ", p, " are not device memory");
  }
  template <class V>
  V on(V v) const {
    if (v.numel() > 0) require_device(v.data(), static_cast<std::size_t>(v.numel()) * sizeof(*v.data()));
    return v;
  }

  struct block {
    std::size_t bytes;
    void* raw;  // what operator new returned
  };
  static constexpr std::align_val_t alignment{64};
  std::map<std::uintptr_t, block> blocks_;  // by the address handed out
  std::size_t offset_ = 0;
  Host host_;
};

}  // namespace lsk::testing

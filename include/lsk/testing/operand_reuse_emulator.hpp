// lsk/testing/operand_reuse_emulator.hpp: a host backend that keeps gemm
// operand copies inside reuse scopes the way a device backend does, so that the
// promise callers of lsk::gemm_operand_reuse make can be tested on the host.
//
// Inside a scope (lsk/ops/gemm_operand_reuse.hpp) the CUDA backend packs each
// product operand into a bf16 copy, keeps it, and multiplies a later product's
// operand from that copy when it has the same source (address, extents, row
// pitch, batch stride); a product whose C overlaps a kept copy's source drops
// it. If anything else wrote to a kept source in the meantime, the product
// silently reads stale values. operand_reuse_emulator<Host> does the same with
// exact copies (no rounding) and Host's gemm: where the caller keeps its
// promise, its results are Host's bit for bit; where it does not, they are the
// stale ones. A broadcast operand (stride 0) is copied once, as on the device.
// reused() counts the products' operands that came from a kept copy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <list>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "lsk/concepts/backend.hpp"
#include "lsk/ops/gemm_problem.hpp"

namespace lsk::testing {

template <Backend Host>
class operand_reuse_emulator : public Host {
 public:
  static constexpr std::string_view name = "operand_reuse_emulator";
  static_assert(Host::memory == memory_space::host, "operand_reuse_emulator reads operands on the host");

  using Host::Host;

  void begin_operand_reuse() { ++depth_; }
  void end_operand_reuse() noexcept {
    if (depth_ > 0 && --depth_ == 0) {
      kept_f32_.clear();
      kept_f64_.clear();
    }
  }

  int reused() const { return reused_; }
  int depth() const { return depth_; }

  template <real_scalar T>
  void gemm(const gemm_problem<T>& g) {
    if (depth_ == 0 || g.batch <= 0 || g.m <= 0 || g.n <= 0 || g.k <= 0) {
      Host::gemm(g);
      return;
    }
    // Stored extents of the row-major operands, as the device backend sees them.
    const index_t a_rows = g.trans_a ? g.k : g.m, a_cols = g.trans_a ? g.m : g.k;
    const index_t b_rows = g.trans_b ? g.n : g.k, b_cols = g.trans_b ? g.k : g.n;
    gemm_problem<T> p = g;
    const auto& a = copy_of<T>({g.a, g.stride_a == 0 ? 1 : g.batch, a_rows, a_cols, g.lda, g.stride_a, {}});
    const auto& b = copy_of<T>({g.b, g.stride_b == 0 ? 1 : g.batch, b_rows, b_cols, g.ldb, g.stride_b, {}});
    p.a = a.values.data();
    p.lda = a_cols;
    p.stride_a = g.stride_a == 0 ? 0 : a_rows * a_cols;
    p.b = b.values.data();
    p.ldb = b_cols;
    p.stride_b = g.stride_b == 0 ? 0 : b_rows * b_cols;
    Host::gemm(p);
    // C's elements are new: copies of anything they overlap are stale.
    const span c = span_of(g.c, g.batch, g.stride_c, g.m, g.ldc, g.n);
    kept<T>().remove_if(
        [&](const operand<T>& o) { return c.overlaps(span_of(o.data, o.batches, o.stride, o.rows, o.ld, o.cols)); });
  }

 private:
  template <class T>
  struct operand {
    const T* data;
    index_t batches, rows, cols, ld, stride;
    std::vector<T> values;  // compact: (batches * rows, cols)
    bool same_source(const operand& o) const {
      return data == o.data && batches == o.batches && rows == o.rows && cols == o.cols && ld == o.ld &&
             stride == o.stride;
    }
  };
  struct span {
    std::uintptr_t begin, end;
    bool overlaps(const span& o) const { return begin < o.end && o.begin < end; }
  };
  template <class T>
  static span span_of(const T* data, index_t batches, index_t stride, index_t rows, index_t ld, index_t cols) {
    const auto first = reinterpret_cast<std::uintptr_t>(data);
    const index_t last = (batches - 1) * stride + (rows - 1) * ld + cols;
    return {first, first + static_cast<std::uintptr_t>(last) * sizeof(T)};
  }

  template <class T>
  std::list<operand<T>>& kept() {
    if constexpr (std::is_same_v<T, float>) {
      return kept_f32_;
    } else {
      return kept_f64_;
    }
  }

  // The kept copy of `source`, made now when there is none.
  template <class T>
  const operand<T>& copy_of(operand<T> source) {
    for (const auto& k : kept<T>()) {
      if (k.same_source(source)) {
        ++reused_;
        return k;
      }
    }
    source.values.resize(static_cast<std::size_t>(source.batches * source.rows * source.cols));
    for (index_t bi = 0; bi < source.batches; ++bi) {
      for (index_t r = 0; r < source.rows; ++r) {
        const T* row = source.data + bi * source.stride + r * source.ld;
        std::copy(row, row + source.cols, source.values.begin() + (bi * source.rows + r) * source.cols);
      }
    }
    return kept<T>().emplace_back(std::move(source));
  }

  int depth_ = 0, reused_ = 0;
  std::list<operand<float>> kept_f32_;
  std::list<operand<double>> kept_f64_;
};

}  // namespace lsk::testing

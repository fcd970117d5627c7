// lsk/testing/operand_reuse_emulator.hpp: a host backend that keeps gemm
// operand copies inside reuse scopes the way a device backend does, so that the
// promise callers of lsk::gemm_operand_reuse make can be tested on the host.
//
// Inside a scope (lsk/ops/gemm_operand_reuse.hpp) the CUDA backend packs each
// product operand into a bf16 copy, keeps it, and multiplies a later product's
// operand from that copy when it has the same source (gemm_operand's
// same_source); a product whose C overlaps a kept copy's source drops it. If
// anything else wrote to a kept source in the meantime, the product silently
// reads stale values. operand_reuse_emulator<Host> does the same with exact
// copies (no rounding) and Host's gemm: where the caller keeps its promise, its
// results are Host's bit for bit; where it does not, they are the stale ones. A
// broadcast operand (stride 0) is copied once, as on the device. reused()
// counts the products' operands that came from a kept copy.
#pragma once

#include <algorithm>
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
    const auto& a = copy_of(operand_a(g));
    const auto& b = copy_of(operand_b(g));
    gemm_problem<T> p = g;
    p.a = a.values.data();
    p.lda = a.cols;
    p.stride_a = g.stride_a == 0 ? 0 : a.rows * a.cols;
    p.b = b.values.data();
    p.ldb = b.cols;
    p.stride_b = g.stride_b == 0 ? 0 : b.rows * b.cols;
    Host::gemm(p);
    // C's elements are new: copies of anything they overlap are stale.
    const gemm_operand<T> c = output_c(g);
    kept<T>().remove_if([&](const kept_copy<T>& k) { return c.overlaps(k); });
  }

 private:
  template <class T>
  struct kept_copy : gemm_operand<T> {
    std::vector<T> values;  // compact: (batches * rows, cols)
  };

  template <class T>
  std::list<kept_copy<T>>& kept() {
    if constexpr (std::is_same_v<T, float>) {
      return kept_f32_;
    } else {
      return kept_f64_;
    }
  }

  // The kept copy of `source`, made now when there is none.
  template <class T>
  const kept_copy<T>& copy_of(const gemm_operand<T>& source) {
    for (const auto& k : kept<T>()) {
      if (k.same_source(source)) {
        ++reused_;
        return k;
      }
    }
    kept_copy<T> copy{source, std::vector<T>(static_cast<std::size_t>(source.elements()))};
    for (index_t bi = 0; bi < source.batches; ++bi) {
      for (index_t r = 0; r < source.rows; ++r) {
        const T* row = source.data + bi * source.stride + r * source.ld;
        std::copy(row, row + source.cols, copy.values.begin() + (bi * source.rows + r) * source.cols);
      }
    }
    return kept<T>().emplace_back(std::move(copy));
  }

  int depth_ = 0, reused_ = 0;
  std::list<kept_copy<float>> kept_f32_;
  std::list<kept_copy<double>> kept_f64_;
};

}  // namespace lsk::testing

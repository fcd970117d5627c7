// lsk/backends/cuda/backend.hpp: the CUDA backend (device memory, one stream).
//
// Host code (compiles with any C++20 compiler); the kernels are in
// backends/cuda/src/ and are linked from lsk::cuda. The backend owns one
// stream (a blocking one: ordered with the legacy default stream, which
// device_buffer's plain copies use) and one cuBLAS handle on it: every op is
// enqueued on that stream in call order and returns without waiting, except
// the ones that return a host double (sum, sum_squares, sum_squares_total,
// max_abs, cross_entropy_forward), which wait for their result. Views passed to the ops
// hold device pointers.
//
// Algorithms and numerics (tolerances: lsk/testing/op_cases.hpp):
//  - gemm: cuBLAS (lsk/backends/cuda/gemm.hpp); f32 in true FP32 by default,
//    TF32 tensor cores, or bf16 ones on bf16-rounded copies of the operands
//    (f32 accumulation, f32 output), with backend_options::matmul.
//  - element-wise ops: one thread per element in the input precision; add,
//    mul, scale and axpy (one fused multiply-add) round once, as the
//    reference does.
//  - row ops (RMSNorm, softmax, cross-entropy): one block per row; the row's
//    sums (of squares, of exponentials, of products) accumulate in double,
//    exponentials are taken in the input precision after subtracting the row
//    maximum.
//  - column sums (sum_rows, RMSNorm's weight gradient): per-chunk partials in
//    double added in a fixed order (deterministic).
//  - whole-tensor reductions: per-block partials in double, added in a fixed
//    order (deterministic).
//  - embedding_backward: atomic adds in the input precision (the order of
//    additions to a repeated id's row varies between runs).
//  - RoPE: one thread per rotated pair, in the input precision.
//  - adamw_update: one thread per element in the input precision (the
//    compiler may fuse multiply-adds, so f32 results differ from the cpu
//    backend's in the last bits).
// Ids are not checked on the host for device memory (see kernels.hpp for what
// out-of-range ids do; a Llama model checks its batches before copying them).
// Models: lsk::model::llama::to(&memory) with memory a backend_memory<backend>
// (lsk/core/backend_memory.hpp) puts a model's tensors in this backend's
// memory; its attention is model_attention (model_attention.hpp).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "lsk/backends/cuda/device.hpp"
#include "lsk/backends/cuda/error.hpp"
#include "lsk/backends/cuda/gemm.hpp"
#include "lsk/backends/cuda/kernels.hpp"
#include "lsk/backends/cuda/model_attention.hpp"
#include "lsk/backends/cuda/model_ring_attention.hpp"
#include "lsk/concepts/backend.hpp"

namespace lsk::cuda {

struct backend_options {
  int device = -1;  // the CUDA device to select; -1 keeps the current one
  // f32 gemm: true FP32, or TF32 / bf16 tensor cores (faster; ~1e-3 / ~4e-3 relative error;
  // bf16 rounds the operands to bf16 copies first: see gemm.hpp).
  matmul_precision matmul = matmul_precision::f32;
};

namespace detail {
// A stream created with cudaStreamCreate: a blocking stream, which
// synchronises with the legacy default stream that device_buffer's copies and
// the conversion functions use by default, so data uploaded with them is there
// before this stream's kernels run, and their downloads wait for the kernels.
// Destroyed with its owner.
class owned_stream {
 public:
  owned_stream() { LSK_CUDA_CHECK(cudaStreamCreate(&stream_)); }
  ~owned_stream() {
    if (stream_ != nullptr) static_cast<void>(cudaStreamDestroy(stream_));
  }
  owned_stream(const owned_stream&) = delete;
  owned_stream& operator=(const owned_stream&) = delete;
  cudaStream_t get() const noexcept { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

// Selects the device before the stream and the cuBLAS handle are created.
struct device_selector {
  explicit device_selector(int device) {
    if (device >= 0) set_device(device);
  }
};
}  // namespace detail

class backend {
 public:
  static constexpr std::string_view name = "cuda";
  static constexpr memory_space memory = memory_space::device;
  // What a Llama model's layers use (lsk/model/llama.hpp): flash kernels for f32 models.
  using attention_type = model_attention;
  // ... and under context parallelism (llama::set_context_parallel with an NCCL communicator).
  using context_attention_type = model_ring_attention;

  backend() : backend(backend_options{}) {}
  explicit backend(backend_options options) : options_(options), selector_(options.device), blas_(stream_.get()) {}
  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;

  // Why this machine cannot run the backend ("" when it can): no driver, no device.
  static std::string unavailable() {
    const device_probe probe = probe_devices();
    return probe.available() ? std::string() : probe.describe();
  }

  const backend_options& options() const noexcept { return options_; }
  void set_matmul_precision(matmul_precision p) noexcept { options_.matmul = p; }
  cudaStream_t stream() const noexcept { return stream_.get(); }
  // Waits for every op enqueued so far; reports asynchronous kernel faults.
  void synchronize() const { LSK_CUDA_CHECK(cudaStreamSynchronize(stream_.get())); }

  bool supports(op_kind, dtype dt) const { return dt == dtype::f32 || dt == dtype::f64; }

  // ---- raw device memory, ordered with this backend's stream ----------------
  void* device_allocate(std::size_t bytes) {
    void* p = nullptr;
    if (bytes > 0) LSK_CUDA_CHECK(cudaMalloc(&p, bytes));
    return p;
  }
  // Waits for the stream first, so memory still used by enqueued work is not freed.
  void device_free(void* p) noexcept {
    if (p == nullptr) return;
    static_cast<void>(cudaStreamSynchronize(stream_.get()));
    static_cast<void>(cudaFree(p));
  }
  void copy_to_device(void* dst, const void* src, std::size_t bytes) {
    if (bytes == 0) return;
    LSK_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_.get()));
    synchronize();
  }
  // Waits for the ops enqueued before it, then copies.
  void copy_to_host(void* dst, const void* src, std::size_t bytes) {
    if (bytes == 0) return;
    LSK_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_.get()));
    synchronize();
  }

  // Waits for the ops enqueued before it, then copies (the copy is complete on return).
  void copy_on_device(void* dst, const void* src, std::size_t bytes) {
    if (bytes == 0) return;
    LSK_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_.get()));
    synchronize();
  }
  // Enqueued on the stream: ordered before the ops and copies that follow.
  void zero_device(void* p, std::size_t bytes) {
    if (bytes == 0) return;
    LSK_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream_.get()));
  }

  // ---- ops (see lsk/ops/*.hpp for their definitions) ------------------------
  template <real_scalar T>
  void gemm(const gemm_problem<T>& g) {
    if constexpr (std::is_same_v<T, float>) {
      blas_.run(g, options_.matmul);
    } else {
      blas_.run(g);
    }
  }

  // lsk::gemm_operand_reuse's hooks: bf16 products reuse their operands' bf16 copies in a scope.
  void begin_operand_reuse() noexcept { blas_.begin_reuse(); }
  void end_operand_reuse() noexcept { blas_.end_reuse(); }

  template <real_scalar T>
  void embedding_forward(const_view<std::int32_t> ids, const_view<T> table, tensor_view<T> out) {
    kernels::embedding_forward(ids.data(), ids.numel(), table.data(), table.dim(0), table.dim(1), out.data(), s());
  }

  template <real_scalar T>
  void embedding_backward(const_view<std::int32_t> ids, const_view<T> dout, tensor_view<T> dtable) {
    kernels::embedding_backward(ids.data(), ids.numel(), dout.data(), dtable.dim(0), dtable.dim(1), dtable.data(), s());
  }

  template <real_scalar T>
  void rmsnorm_forward(const_view<T> x, const_view<T> w, T eps, tensor_view<T> y, tensor_view<T> rstd) {
    kernels::rmsnorm_forward(x.data(), w.data(), eps, y.data(), rstd.data(), x.extents().rows(), x.dim(-1), s());
  }

  template <real_scalar T>
  void rmsnorm_backward(const_view<T> dy, const_view<T> x, const_view<T> w, const_view<T> rstd, tensor_view<T> dx,
                        tensor_view<T> dw) {
    kernels::rmsnorm_backward(dy.data(), x.data(), w.data(), rstd.data(), dx.data(), dw.data(), x.extents().rows(),
                              x.dim(-1), s());
  }

  template <real_scalar T>
  void silu_forward(const_view<T> x, tensor_view<T> y) {
    kernels::silu_forward(x.data(), y.data(), x.numel(), s());
  }

  template <real_scalar T>
  void silu_backward(const_view<T> x, const_view<T> dy, tensor_view<T> dx) {
    kernels::silu_backward(x.data(), dy.data(), dx.data(), x.numel(), s());
  }

  template <real_scalar T>
  void swiglu_forward(const_view<T> gate, const_view<T> up, tensor_view<T> y) {
    kernels::swiglu_forward(gate.data(), up.data(), y.data(), gate.numel(), s());
  }

  template <real_scalar T>
  void swiglu_backward(const_view<T> gate, const_view<T> up, const_view<T> dy, tensor_view<T> dgate,
                       tensor_view<T> dup) {
    kernels::swiglu_backward(gate.data(), up.data(), dy.data(), dgate.data(), dup.data(), gate.numel(), s());
  }

  template <real_scalar T>
  void softmax_forward(const_view<T> x, T scale, tensor_view<T> y) {
    kernels::softmax_forward(x.data(), scale, y.data(), x.extents().rows(), x.dim(-1), index_t{0}, s());
  }

  template <real_scalar T>
  void causal_softmax_forward(const_view<T> x, T scale, tensor_view<T> y) {
    kernels::softmax_forward(x.data(), scale, y.data(), x.extents().rows(), x.dim(-1), x.dim(-2), s());
  }

  template <real_scalar T>
  void softmax_backward(const_view<T> y, const_view<T> dy, T scale, tensor_view<T> dx) {
    kernels::softmax_backward(y.data(), dy.data(), scale, dx.data(), y.extents().rows(), y.dim(-1), s());
  }

  template <real_scalar T>
  double cross_entropy_forward(const_view<T> logits, const_view<std::int32_t> targets, const_view<std::uint8_t> mask,
                               tensor_view<T> lse) {
    return kernels::cross_entropy_forward(logits.data(), targets.data(), mask.data(), lse.data(), logits.dim(0),
                                          logits.dim(1), s());
  }

  template <real_scalar T>
  void cross_entropy_backward(const_view<T> logits, const_view<std::int32_t> targets, const_view<std::uint8_t> mask,
                              const_view<T> lse, T scale, tensor_view<T> dlogits) {
    kernels::cross_entropy_backward(logits.data(), targets.data(), mask.data(), lse.data(), scale, dlogits.data(),
                                    logits.dim(0), logits.dim(1), s());
  }

  template <real_scalar T>
  void add(const_view<T> a, const_view<T> b, tensor_view<T> y) {
    kernels::add(a.data(), b.data(), y.data(), a.numel(), s());
  }

  template <real_scalar T>
  void mul(const_view<T> a, const_view<T> b, tensor_view<T> y) {
    kernels::mul(a.data(), b.data(), y.data(), a.numel(), s());
  }

  template <real_scalar T>
  void scale(const_view<T> x, T alpha, tensor_view<T> y) {
    kernels::scale(x.data(), alpha, y.data(), x.numel(), s());
  }

  template <real_scalar T>
  void axpy(T alpha, const_view<T> x, tensor_view<T> y) {
    kernels::axpy(alpha, x.data(), y.data(), x.numel(), s());
  }

  template <real_scalar T>
  void adamw_update(tensor_view<T> param, const_view<T> grad, tensor_view<T> m, tensor_view<T> v,
                    const adamw_coefficients<T>& c) {
    kernels::adamw_update(param.data(), grad.data(), m.data(), v.data(), c, param.numel(), s());
  }

  template <real_scalar T>
  void fill(tensor_view<T> y, T value) {
    kernels::fill(y.data(), value, y.numel(), s());
  }

  template <real_scalar T>
  double sum(const_view<T> x) {
    return kernels::sum(x.data(), x.numel(), s());
  }

  template <real_scalar T>
  double sum_squares(const_view<T> x) {
    return kernels::sum_squares(x.data(), x.numel(), s());
  }

  template <real_scalar T>
  double sum_squares_total(const std::vector<const_view<T>>& xs) {
    std::vector<const T*> data;
    std::vector<index_t> sizes;
    for (const auto& x : xs) {
      data.push_back(x.data());
      sizes.push_back(x.numel());
    }
    return kernels::sum_squares_total(data.data(), sizes.data(), data.size(), s());
  }

  template <real_scalar T>
  double max_abs(const_view<T> x) {
    return kernels::max_abs(x.data(), x.numel(), s());
  }

  template <real_scalar T>
  void sum_rows(const_view<T> x, tensor_view<T> y) {
    kernels::sum_rows(x.data(), y.data(), x.dim(0), x.dim(1), s());
  }

  template <real_scalar T>
  void broadcast_rows(const_view<T> row, tensor_view<T> y) {
    kernels::broadcast_rows(row.data(), y.data(), y.dim(0), y.dim(1), s());
  }

  template <real_scalar T>
  void rope_forward(const_view<T> x, const_view<std::int32_t> positions, const_view<T> cos, const_view<T> sin,
                    rope_layout layout, tensor_view<T> y) {
    kernels::rope(x.data(), positions.data(), cos.data(), sin.data(), x.dim(0), x.dim(1), x.dim(2), cos.dim(1),
                  cos.dim(0), layout, 1, y.data(), s());
  }

  template <real_scalar T>
  void rope_backward(const_view<T> dy, const_view<std::int32_t> positions, const_view<T> cos, const_view<T> sin,
                     rope_layout layout, tensor_view<T> dx) {
    kernels::rope(dy.data(), positions.data(), cos.data(), sin.data(), dy.dim(0), dy.dim(1), dy.dim(2), cos.dim(1),
                  cos.dim(0), layout, -1, dx.data(), s());
  }

 private:
  cudaStream_t s() const noexcept { return stream_.get(); }

  backend_options options_;
  detail::device_selector selector_;  // before the stream: it picks the device they are made on
  detail::owned_stream stream_;
  blas_handle blas_;
};

static_assert(Backend<backend>);
static_assert(backend_for<backend, double>);
static_assert(DeviceMemory<backend>);

}  // namespace lsk::cuda

// lsk/concepts/backend.hpp: what a compute backend must provide.
//
// A backend is a class whose member functions run the primitive operations of
// a Llama training step on tensors in its memory space. Users do not call these
// members directly: the free functions in lsk/ops/ check shapes once and then
// dispatch here, so a backend may assume well-formed, contiguous arguments
// (gemm excepted, which carries its own pitches).
//
// Semantic requirements (not checkable by the compiler; the conformance suite
// in lsk/testing/ checks them against the reference backend):
//  1. Every member computes the function documented on the matching free
//     function in lsk/ops/, to within that op's conformance tolerance.
//  2. Forward members and backward members that produce activation gradients
//     overwrite their outputs; backward members that produce parameter
//     gradients (embedding_backward's table, rmsnorm_backward's weight)
//     accumulate into them (+=), so gradients add up over micro-batches.
//  3. Outputs never alias inputs unless the op's documentation says so.
//  4. supports(op, dt) is true for every op and dtype the backend implements
//     correctly; calling an unsupported combination throws unsupported_error.
//  5. Results do not depend on the number of threads beyond floating-point
//     reassociation (no data races, no uninitialised reads).
//  6. Reductions (sum, sum_squares, max_abs) return a host double, and
//     cross_entropy_forward returns the sum of masked per-row losses.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "lsk/core/tensor_view.hpp"
#include "lsk/ops/adamw_coefficients.hpp"
#include "lsk/ops/gemm_problem.hpp"
#include "lsk/ops/op_kind.hpp"
#include "lsk/ops/rope_layout.hpp"

namespace lsk {

enum class memory_space { host, device };

constexpr std::string_view name(memory_space m) { return m == memory_space::host ? "host" : "device"; }

// The operations of a backend for element type T.
template <class B, class T>
concept backend_for = requires(B& be, const gemm_problem<T>& g, const_view<T> x, const_view<T> x2, const_view<T> x3,
                               tensor_view<T> y, tensor_view<T> y2, const_view<std::int32_t> ids,
                               const_view<std::uint8_t> mask, T s, rope_layout layout,
                               const adamw_coefficients<T>& adamw) {
  { be.gemm(g) } -> std::same_as<void>;
  { be.embedding_forward(ids, x, y) } -> std::same_as<void>;
  { be.embedding_backward(ids, x, y) } -> std::same_as<void>;
  { be.rmsnorm_forward(x, x2, s, y, y2) } -> std::same_as<void>;
  { be.rmsnorm_backward(x, x2, x3, x, y, y2) } -> std::same_as<void>;
  { be.silu_forward(x, y) } -> std::same_as<void>;
  { be.silu_backward(x, x2, y) } -> std::same_as<void>;
  { be.swiglu_forward(x, x2, y) } -> std::same_as<void>;
  { be.swiglu_backward(x, x2, x3, y, y2) } -> std::same_as<void>;
  { be.softmax_forward(x, s, y) } -> std::same_as<void>;
  { be.causal_softmax_forward(x, s, y) } -> std::same_as<void>;
  { be.softmax_backward(x, x2, s, y) } -> std::same_as<void>;
  { be.cross_entropy_forward(x, ids, mask, y) } -> std::same_as<double>;
  { be.cross_entropy_backward(x, ids, mask, x2, s, y) } -> std::same_as<void>;
  { be.add(x, x2, y) } -> std::same_as<void>;
  { be.mul(x, x2, y) } -> std::same_as<void>;
  { be.scale(x, s, y) } -> std::same_as<void>;
  { be.axpy(s, x, y) } -> std::same_as<void>;
  { be.fill(y, s) } -> std::same_as<void>;
  { be.sum(x) } -> std::same_as<double>;
  { be.sum_squares(x) } -> std::same_as<double>;
  { be.max_abs(x) } -> std::same_as<double>;
  { be.sum_rows(x, y) } -> std::same_as<void>;
  { be.broadcast_rows(x, y) } -> std::same_as<void>;
  { be.rope_forward(x, ids, x2, x3, layout, y) } -> std::same_as<void>;
  { be.rope_backward(x, ids, x2, x3, layout, y) } -> std::same_as<void>;
  { be.adamw_update(y, x, y2, y, adamw) } -> std::same_as<void>;
};

// A backend: a name, a memory space, a capability query, and every operation
// for f32 (f64 is optional; backend_for<B, double> tells whether it is there).
template <class B>
concept Backend = requires(const B& cbe, op_kind op, dtype dt) {
  { B::name } -> std::convertible_to<std::string_view>;
  { B::memory } -> std::convertible_to<memory_space>;
  { cbe.supports(op, dt) } -> std::same_as<bool>;
}
&&backend_for<B, float>;

// A device-memory backend's raw memory: allocate / free bytes, blocking copies
// ordered after the backend's enqueued work, and zeroing. Tensors and models
// reach it through lsk::device_memory (lsk/core/device_memory.hpp).
template <class B>
concept DeviceMemory = Backend<B> && B::memory ==
                       memory_space::device&& requires(B& be, void* dst, const void* src, std::size_t bytes) {
  { be.device_allocate(bytes) } -> std::same_as<void*>;
  be.device_free(dst);
  be.copy_to_device(dst, src, bytes);
  be.copy_to_host(dst, src, bytes);
  be.copy_on_device(dst, src, bytes);
  be.zero_device(dst, bytes);
};

}  // namespace lsk

// lsk/testing/conformance.hpp: the conformance suite as Catch2 (v2) tests.
//
// Usage, in one .cpp of your test program (Catch2 provides main):
//   #include <my/backend.hpp>
//   using lsk_conformance_backends = std::tuple<my::backend>;
//   #include <lsk/testing/conformance.hpp>
// Each backend must be default-constructible and model lsk::Backend. For every
// op this defines "conformance: OP" (f32 and f64 against the reference
// backend) and "gradient: OP" (f64 backward against finite differences).
// Ops a backend reports as unsupported are skipped with a visible warning, and
// so are all tests of a backend that cannot run on this machine
// (unavailable_reason in harness.hpp: a device backend without its device).
#pragma once

#include <string>
#include <tuple>

#include <catch2/catch.hpp>

#include "lsk/testing/harness.hpp"

// The type list of backends under test: a std::tuple alias declared before
// this header (a macro may name another alias).
#ifndef LSK_CONFORMANCE_BACKENDS
#define LSK_CONFORMANCE_BACKENDS lsk_conformance_backends
#endif

namespace lsk::testing {
// True (with a "skipped: <reason>" warning) when backend B cannot run here.
template <class B>
bool skip_unavailable() {
  const std::string why = unavailable_reason<B>();
  if (why.empty()) return false;
  WARN("skipped: " << why);
  return true;
}

inline void require_report(const check_report& r) {
  if (r.result == check_report::status::skipped) {
    WARN("skipped: " << r.message);
    return;
  }
  INFO(r.message);
  CHECK(r.checks > 0);
  REQUIRE(r.passed());
}
}  // namespace lsk::testing

#define LSK_CONFORMANCE_OP(OP)                                                                                       \
  TEMPLATE_LIST_TEST_CASE("conformance: " #OP, "[conformance][" #OP "]", LSK_CONFORMANCE_BACKENDS) {                 \
    if (::lsk::testing::skip_unavailable<TestType>()) return;                                                        \
    TestType backend;                                                                                                \
    ::lsk::testing::require_report(::lsk::testing::conformance_check<::lsk::testing::OP##_case, float>(backend));    \
    if constexpr (::lsk::backend_for<TestType, double>) {                                                            \
      ::lsk::testing::require_report(::lsk::testing::conformance_check<::lsk::testing::OP##_case, double>(backend)); \
    }                                                                                                                \
  }                                                                                                                  \
  TEMPLATE_LIST_TEST_CASE("gradient: " #OP, "[gradient][" #OP "]", LSK_CONFORMANCE_BACKENDS) {                       \
    if (::lsk::testing::skip_unavailable<TestType>()) return;                                                        \
    TestType backend;                                                                                                \
    ::lsk::testing::require_report(::lsk::testing::gradient_check<::lsk::testing::OP##_case>(backend));              \
  }

LSK_CONFORMANCE_OP(matmul)
LSK_CONFORMANCE_OP(embedding)
LSK_CONFORMANCE_OP(rmsnorm)
LSK_CONFORMANCE_OP(silu)
LSK_CONFORMANCE_OP(swiglu)
LSK_CONFORMANCE_OP(softmax)
LSK_CONFORMANCE_OP(causal_softmax)
LSK_CONFORMANCE_OP(cross_entropy)
LSK_CONFORMANCE_OP(add)
LSK_CONFORMANCE_OP(mul)
LSK_CONFORMANCE_OP(scale)
LSK_CONFORMANCE_OP(axpy)
LSK_CONFORMANCE_OP(adamw_update)
LSK_CONFORMANCE_OP(fill)
LSK_CONFORMANCE_OP(sum)
LSK_CONFORMANCE_OP(sum_squares)
LSK_CONFORMANCE_OP(max_abs)
LSK_CONFORMANCE_OP(sum_rows)
LSK_CONFORMANCE_OP(broadcast_rows)
LSK_CONFORMANCE_OP(rope)

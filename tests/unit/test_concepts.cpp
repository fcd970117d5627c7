// Concepts are tested both ways: archetypes must model them, broken types must not.
#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/backends/reference/backend.hpp"
#include "lsk/concepts/archetypes.hpp"

static_assert(lsk::Backend<lsk::archetypes::backend>);
static_assert(!lsk::backend_for<lsk::archetypes::backend, double>);
static_assert(lsk::Backend<lsk::backends::reference>);
static_assert(lsk::Backend<lsk::backends::cpu>);

static_assert(!lsk::Backend<lsk::archetypes::backend_without_gemm>);
static_assert(!lsk::Backend<lsk::archetypes::backend_without_name>);
static_assert(!lsk::Backend<lsk::archetypes::backend_with_wrong_reduction>);
static_assert(!lsk::Backend<lsk::archetypes::backend_without_supports>);
static_assert(!lsk::Backend<int>);

TEST_CASE("backend concept: archetype and broken types are classified at compile time", "[concepts]") {
  CHECK(lsk::Backend<lsk::archetypes::backend>);
  CHECK_FALSE(lsk::Backend<lsk::archetypes::backend_without_gemm>);
}

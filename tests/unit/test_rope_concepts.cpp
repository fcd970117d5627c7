// The PositionEncoding concept, tested both ways: the archetype and every lsk
// encoding model it; types one requirement short do not.
#include <catch2/catch.hpp>

#include "lsk/concepts/archetypes.hpp"
#include "lsk/position/rope.hpp"

namespace arch = lsk::archetypes;
namespace pos = lsk::position;

static_assert(lsk::PositionEncoding<arch::position_encoding>);
static_assert(lsk::PositionEncoding<pos::default_rope>);
static_assert(lsk::PositionEncoding<pos::linear_rope>);
static_assert(lsk::PositionEncoding<pos::dynamic_ntk_rope>);
static_assert(lsk::PositionEncoding<pos::yarn_rope>);
static_assert(lsk::PositionEncoding<pos::long_rope>);
static_assert(lsk::PositionEncoding<pos::llama3_rope>);
static_assert(lsk::PositionEncoding<pos::rope>);

static_assert(!lsk::PositionEncoding<arch::position_encoding_without_attention_factor>);
static_assert(!lsk::PositionEncoding<arch::position_encoding_with_float_inv_freq>);
static_assert(!lsk::PositionEncoding<arch::position_encoding_without_length>);
static_assert(!lsk::PositionEncoding<arch::position_encoding_not_copyable>);
static_assert(!lsk::PositionEncoding<pos::rope_config>);
static_assert(!lsk::PositionEncoding<int>);

// Generic code written against the concept compiles with the archetype alone.
namespace {
template <lsk::PositionEncoding P>
lsk::index_t pairs_of(const P& p) {
  return static_cast<lsk::index_t>(p.inv_freq(0).size()) + 0 * p.rotary_dim() + 0 * p.head_dim() +
         static_cast<lsk::index_t>(0 * p.attention_factor());
}
[[maybe_unused]] auto* generic_use = &pairs_of<arch::position_encoding>;
}  // namespace

TEST_CASE("position encoding concept: archetype, encodings and broken types are classified", "[rope][concepts]") {
  CHECK(lsk::PositionEncoding<arch::position_encoding>);
  CHECK_FALSE(lsk::PositionEncoding<arch::position_encoding_with_float_inv_freq>);
  pos::rope_config c;
  c.head_dim = 64;
  CHECK(pairs_of(pos::rope(c)) == 32);
}

// Properties of the RoPE types that hold whatever transformers does, the
// one-call config edits, and the cos/sin tables.
#include <cmath>
#include <numbers>
#include <vector>

#include <catch2/catch.hpp>

#include "lsk/position.hpp"

namespace {
using namespace lsk::position;
using lsk::index_t;

rope_config base_config(index_t head_dim, double theta = 10000.0, index_t max_pos = 4096) {
  rope_config c;
  c.head_dim = head_dim;
  c.theta = theta;
  c.max_position_embeddings = max_pos;
  return c;
}

bool close(double a, double b, double rel = 1e-13) { return std::abs(a - b) <= rel * std::abs(b); }
}  // namespace

TEST_CASE("default inv_freq is theta^(-2i/d) over the rotary dims only", "[rope][properties]") {
  for (index_t d : {64, 80, 128}) {
    auto c = base_config(d, 500000.0);
    const auto f = rope(c).inv_freq();
    REQUIRE(static_cast<index_t>(f.size()) == d / 2);
    CHECK(f[0] == 1.0);
    for (std::size_t i = 1; i < f.size(); ++i) {
      CHECK(f[i] < f[i - 1]);
      CHECK(close(f[i], std::pow(500000.0, -2.0 * double(i) / double(d))));
    }
    c.partial_rotary_factor = 0.5;
    const rope half(c);
    CHECK(half.rotary_dim() == d / 2);
    CHECK(static_cast<index_t>(half.inv_freq().size()) == d / 4);
  }
}

TEST_CASE("linear scaling is default inv_freq divided by the factor", "[rope][properties]") {
  for (index_t d : {64, 80, 128}) {
    for (double factor : {2.0, 2.5, 7.3}) {
      auto c = base_config(d);
      const auto plain = rope(c).inv_freq();
      c.scaling = rope_scaling::linear;
      c.factor = factor;
      const rope r(c);
      const auto f = r.inv_freq();
      for (std::size_t i = 0; i < f.size(); ++i) CHECK(close(f[i], plain[i] / factor));
      CHECK(r.attention_factor() == 1.0);
    }
  }
}

TEST_CASE("dynamic NTK is unchanged at or below the original length and scales the base above it",
          "[rope][properties][dynamic]") {
  auto c = base_config(128, 10000.0, 4096);
  const auto plain = rope(c).inv_freq();
  c.scaling = rope_scaling::dynamic;
  c.factor = 2.5;
  const rope r(c);
  for (index_t n : {0, 1, 100, 4095, 4096}) {
    const auto f = r.inv_freq(n);
    for (std::size_t i = 0; i < f.size(); ++i) CHECK(close(f[i], plain[i]));
  }
  std::vector<double> previous = plain;
  for (index_t n : {4097, 8192, 20000, 100000}) {
    const auto f = r.inv_freq(n);
    CHECK(f[0] == 1.0);
    for (std::size_t i = 1; i < f.size(); ++i) CHECK(f[i] < previous[i]);
    previous = f;
  }
  // The base formula: theta * (factor * n / L - (factor - 1))^(d / (d - 2)).
  const double expected_base = 10000.0 * std::pow(2.5 * 8192.0 / 4096.0 - 1.5, 128.0 / 126.0);
  CHECK(close(std::get<dynamic_ntk_rope>(r.encoding()).base(8192), expected_base));
}

TEST_CASE("dynamic NTK state: growth recomputes, shorter than the original resets", "[rope][properties][dynamic]") {
  auto c = base_config(64, 10000.0, 1000);
  c.scaling = rope_scaling::dynamic;
  c.factor = 2.0;
  const rope r(c);
  rope_state s(r);
  CHECK(s.update(10) == r.inv_freq(0));
  CHECK(s.update(3000) == r.inv_freq(3000));
  CHECK(s.cached_length() == 3000);
  CHECK(s.update(2000) == r.inv_freq(3000));  // shorter but above the original: kept
  CHECK(s.update(1000) == r.inv_freq(3000));  // equal to the original: kept
  CHECK(s.update(999) == r.inv_freq(0));      // below the original: reset
  CHECK(s.cached_length() == 1000);
}

TEST_CASE("yarn inv_freq lies between default / factor and default, with the paper's temperature",
          "[rope][properties][yarn]") {
  for (index_t d : {64, 80, 128}) {
    for (double factor : {2.5, 4.0, 7.3, 32.0}) {
      auto c = base_config(d, 10000.0, 4096);
      const auto plain = rope(c).inv_freq();
      c = with_yarn(c, static_cast<index_t>(4096 * factor));
      factor = *c.factor;  // target lengths are whole numbers: 7.3 becomes 29900 / 4096
      const rope r(c);
      const auto f = r.inv_freq();
      INFO("d " << d << ", factor " << factor);
      for (std::size_t i = 0; i < f.size(); ++i) {
        CHECK(f[i] <= plain[i] * (1 + 1e-15));
        CHECK(f[i] >= plain[i] / factor * (1 - 1e-15));
      }
      CHECK(f.front() == plain.front());              // fastest pair: extrapolated
      CHECK(close(f.back(), plain.back() / factor));  // slowest pair: interpolated
      CHECK(close(r.attention_factor(), 0.1 * std::log(factor) + 1.0));
    }
  }
}

TEST_CASE("yarn mscale / mscale_all_dim and an explicit attention factor", "[rope][properties][yarn]") {
  auto c = with_yarn(base_config(128), 4096 * 40);
  c.mscale = 1.0;
  c.mscale_all_dim = 0.707;
  CHECK(close(rope(c).attention_factor(), (0.1 * std::log(40.0) + 1.0) / (0.1 * 0.707 * std::log(40.0) + 1.0)));
  c.mscale_all_dim = 0.0;  // both must be non-zero, else the plain temperature
  CHECK(close(rope(c).attention_factor(), 0.1 * std::log(40.0) + 1.0));
  c.attention_factor = 1.25;
  CHECK(rope(c).attention_factor() == 1.25);
}

TEST_CASE("llama3 leaves high frequencies untouched and divides low ones by the factor", "[rope][properties]") {
  auto c = base_config(128, 500000.0, 131072);
  const auto plain = rope(c).inv_freq();
  c.scaling = rope_scaling::llama3;
  c.factor = 8.0;
  c.low_freq_factor = 1.0;
  c.high_freq_factor = 4.0;
  c.original_max_position_embeddings = 8192;
  const auto f = rope(c).inv_freq();
  int high = 0, low = 0, medium = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    const double wavelength = 2 * std::numbers::pi / plain[i];
    if (wavelength < 8192.0 / 4.0) {
      CHECK(f[i] == plain[i]);
      ++high;
    } else if (wavelength > 8192.0 / 1.0) {
      CHECK(close(f[i], plain[i] / 8.0));
      ++low;
    } else {
      CHECK(f[i] < plain[i]);
      CHECK(f[i] > plain[i] / 8.0);
      ++medium;
    }
  }
  CHECK(high > 0);
  CHECK(low > 0);
  CHECK(medium > 0);
}

TEST_CASE("longrope uses the short factors up to the original length and the long ones beyond", "[rope][properties]") {
  auto c = base_config(64, 10000.0, 16384);
  const auto plain = rope(c).inv_freq();
  c.scaling = rope_scaling::longrope;
  c.original_max_position_embeddings = 4096;
  c.short_factor.assign(32, 1.5);
  c.long_factor.assign(32, 4.0);
  const rope r(c);
  for (index_t n : {0, 1, 4096}) CHECK(close(r.inv_freq(n)[7], plain[7] / 1.5));
  for (index_t n : {4097, 16384}) CHECK(close(r.inv_freq(n)[7], plain[7] / 4.0));
  CHECK(close(r.attention_factor(), std::sqrt(1 + std::log(4.0) / std::log(4096.0))));
}

TEST_CASE("NTK-aware base keeps the fastest pair and divides the slowest by the scale", "[rope][properties]") {
  for (index_t d : {64, 80, 128}) {
    for (double s : {2.0, 2.5, 7.3, 8.0}) {
      const double b = ntk_aware_base(10000.0, s, d);
      CHECK(close(b, 10000.0 * std::pow(s, double(d) / double(d - 2))));
      const auto plain = default_inv_freq(10000.0, d), scaled = default_inv_freq(b, d);
      CHECK(scaled.front() == 1.0);
      CHECK(close(scaled.back(), plain.back() / s, 1e-12));
    }
  }
  CHECK_THROWS_AS(ntk_aware_base(10000.0, 2.0, 2), lsk::config_error);
}

TEST_CASE("config edits: one call changes the encoding, and bad edits are refused", "[rope][edit]") {
  const auto c = base_config(128, 10000.0, 4096);
  const auto abf = with_base(c, 500000.0);
  CHECK(abf.theta == 500000.0);
  CHECK(abf.max_position_embeddings == 4096);

  const auto ntk = with_ntk_scaling(c, 32768);
  CHECK(close(ntk.theta, 10000.0 * std::pow(8.0, 128.0 / 126.0)));
  CHECK(ntk.max_position_embeddings == 32768);
  CHECK(ntk.scaling == rope_scaling::none);

  const auto lin = with_linear_scaling(c, 16384);
  CHECK(lin.scaling == rope_scaling::linear);
  CHECK(lin.factor == 4.0);

  const auto dyn = with_dynamic_ntk(c, 2.0);
  CHECK(dyn.scaling == rope_scaling::dynamic);
  CHECK(dyn.max_position_embeddings == 4096);

  const auto y = with_yarn(c, 16384);
  CHECK(y.factor == 4.0);
  CHECK(y.original_max_position_embeddings == 4096);
  CHECK(y.max_position_embeddings == 16384);

  CHECK_THROWS_AS(with_ntk_scaling(y, 65536), lsk::config_error);  // already scaled
  CHECK_THROWS_AS(with_ntk_scaling(c, 1024), lsk::config_error);   // shorter
  CHECK_THROWS_AS(with_base(c, -1.0), lsk::config_error);
  auto no_length = c;
  no_length.max_position_embeddings = 0;
  CHECK_THROWS_WITH(with_yarn(no_length, 8192), Catch::Matchers::Contains("max_position_embeddings"));
}

TEST_CASE("cos/sin tables: by position and per call agree, and carry the attention factor", "[rope][tables]") {
  const rope r(with_yarn(base_config(64), 16384));
  const double m = r.attention_factor();
  const auto by_position = make_rope_table<double>(r, 2000);
  lsk::tensor<std::int32_t> positions(lsk::shape{4}, std::vector<std::int32_t>{0, 1999, 5, 5});
  const auto per_call = make_rope_table<double>(r, positions.view(), 0);
  REQUIRE(per_call.rows() == 4);
  REQUIRE(per_call.pairs() == 32);
  for (index_t t = 0; t < 4; ++t) {
    for (index_t i = 0; i < 32; ++i) {
      CHECK(per_call.cos(t, i) == by_position.cos(positions(t), i));
      CHECK(per_call.sin(t, i) == by_position.sin(positions(t), i));
    }
  }
  CHECK(by_position.cos(0, 3) == m);
  CHECK(by_position.sin(0, 3) == 0.0);
  const double angle = 1234.0 * r.inv_freq()[5];
  CHECK(close(by_position.cos(1234, 5), m * std::cos(angle), 1e-15));
  CHECK(close(by_position.sin(1234, 5), m * std::sin(angle), 1e-15));
  lsk::tensor<std::int32_t> bad(lsk::shape{1}, std::vector<std::int32_t>{-3});
  CHECK_THROWS_AS(make_rope_table<float>(r, bad.view()), lsk::index_error);
  const auto iota = iota_positions(5);
  CHECK(iota(4) == 4);
}

TEST_CASE("validation names the key that is wrong", "[rope][config]") {
  using Catch::Matchers::Contains;
  auto c = base_config(128);
  c.scaling = rope_scaling::linear;
  CHECK_THROWS_WITH(rope(c), Contains("'factor' is required"));
  c.factor = -2.0;
  CHECK_THROWS_WITH(rope(c), Contains("'factor' must be"));
  c = base_config(80);
  c.partial_rotary_factor = 0.3;  // 24: fine
  CHECK_NOTHROW(rope(c));
  c.partial_rotary_factor = 0.35;  // 28
  CHECK_NOTHROW(rope(c));
  c.partial_rotary_factor = 0.3125;  // 25: odd
  CHECK_THROWS_WITH(rope(c), Contains("partial_rotary_factor"));
  c = base_config(64);
  c.scaling = rope_scaling::longrope;
  c.original_max_position_embeddings = 1024;
  c.short_factor.assign(31, 1.0);
  c.long_factor.assign(32, 1.0);
  CHECK_THROWS_WITH(rope(c), Contains("'short_factor' must hold rotary_dim / 2 = 32"));
  c = base_config(64);
  c.scaling = rope_scaling::llama3;
  c.factor = 8.0;
  c.low_freq_factor = 4.0;
  c.high_freq_factor = 1.0;
  CHECK_THROWS_WITH(rope(c), Contains("high_freq_factor"));
  c = base_config(64);
  c.theta = 0.5;
  CHECK_THROWS_WITH(rope(c), Contains("rope_theta"));
}

// The device f32 <-> bf16 kernels must reproduce the host conversion
// (lsk::bf16, already checked against a double-precision oracle in
// tests/unit/test_bf16.cpp) bit for bit: every bf16 pattern, ~1.4M float
// patterns covering NaNs, infinities, denormals and exact ties, every
// alignment/tail path, and a size large enough to need several grid strides.
// Without a CUDA device each test prints "skipped: no CUDA device (...)".
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <catch2/catch.hpp>

#include "lsk/backends/cuda/convert.hpp"
#include "lsk/backends/cuda/device.hpp"
#include "lsk/backends/cuda/device_buffer.hpp"
#include "lsk/core/bf16.hpp"
#include "lsk/core/rng.hpp"

// Ends the test case, with a visible warning, when no GPU can be used.
#define LSK_REQUIRE_CUDA_DEVICE()                      \
  do {                                                 \
    const auto lsk_probe = lsk::cuda::probe_devices(); \
    if (!lsk_probe.available()) {                      \
      WARN("skipped: " << lsk_probe.describe());       \
      return;                                          \
    }                                                  \
  } while (false)

namespace {

using lsk::bf16;

std::vector<float> device_bf16_to_f32(const std::vector<bf16>& in) {
  const auto d_in = lsk::cuda::device_buffer<bf16>::from_host(in);
  lsk::cuda::device_buffer<float> d_out(in.size());
  lsk::cuda::bf16_to_f32(d_in, d_out);
  lsk::cuda::synchronize();
  return d_out.to_host();
}

std::vector<bf16> device_f32_to_bf16(const std::vector<float>& in) {
  const auto d_in = lsk::cuda::device_buffer<float>::from_host(in);
  lsk::cuda::device_buffer<bf16> d_out(in.size());
  lsk::cuda::f32_to_bf16(d_in, d_out);
  lsk::cuda::synchronize();
  return d_out.to_host();
}

// Compares device bf16 results with the host rounding; reports the first difference.
void require_matches_host(const std::vector<float>& in, const std::vector<bf16>& out) {
  REQUIRE(out.size() == in.size());
  std::size_t mismatches = 0, first = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (out[i].bits != bf16::round_from_float(in[i])) {
      if (mismatches++ == 0) first = i;
    }
  }
  INFO(mismatches << " mismatches; first at " << first << ": float bits 0x" << std::hex
                  << std::bit_cast<std::uint32_t>(in[first]) << ", device 0x" << out[first].bits << ", host 0x"
                  << bf16::round_from_float(in[first]));
  REQUIRE(mismatches == 0);
}

void require_matches_host(const std::vector<bf16>& in, const std::vector<float>& out) {
  REQUIRE(out.size() == in.size());
  std::size_t mismatches = 0, first = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (std::bit_cast<std::uint32_t>(out[i]) != std::bit_cast<std::uint32_t>(bf16::to_float(in[i].bits))) {
      if (mismatches++ == 0) first = i;
    }
  }
  INFO(mismatches << " mismatches; first at " << first << ": bf16 bits 0x" << std::hex << in[first].bits
                  << ", device float bits 0x" << std::bit_cast<std::uint32_t>(out[first]));
  REQUIRE(mismatches == 0);
}

}  // namespace

TEST_CASE("Device bf16 -> f32 -> bf16 equals the host on all 65536 bf16 patterns", "[cuda][convert]") {
  LSK_REQUIRE_CUDA_DEVICE();
  std::vector<bf16> all(0x10000);
  for (std::uint32_t b = 0; b < 0x10000u; ++b) all[b] = bf16::from_bits(static_cast<std::uint16_t>(b));
  const std::vector<float> widened = device_bf16_to_f32(all);
  require_matches_host(all, widened);
  require_matches_host(widened, device_f32_to_bf16(widened));
}

TEST_CASE("Device f32 -> bf16 equals the host on ~1.4M float patterns", "[cuda][convert]") {
  LSK_REQUIRE_CUDA_DEVICE();
  std::vector<float> in;
  // Every upper half (all signs, exponents incl. 0 = denormals and 255 = inf/NaN)
  // with the low halves that decide rounding: exact, just above truncation,
  // just below a tie, the tie itself (even and odd kept lsb), just above it, max.
  for (std::uint32_t hi = 0; hi < 0x10000u; ++hi) {
    for (std::uint32_t lo : {0x0000u, 0x0001u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu}) {
      in.push_back(std::bit_cast<float>((hi << 16) | lo));
    }
  }
  lsk::rng g(2024);
  for (int i = 0; i < (1 << 20); ++i) in.push_back(std::bit_cast<float>(g.next_u32()));

  // Never test on easy values only: the set must contain each hard class.
  std::size_t nans = 0, infs = 0, denormals = 0, ties = 0;
  for (float x : in) {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
    nans += std::isnan(x) ? 1u : 0u;
    infs += std::isinf(x) ? 1u : 0u;
    denormals += std::fpclassify(x) == FP_SUBNORMAL ? 1u : 0u;
    ties += (u & 0xFFFFu) == 0x8000u && !std::isnan(x) ? 1u : 0u;
  }
  INFO("NaN " << nans << ", inf " << infs << ", denormal " << denormals << ", ties " << ties);
  REQUIRE(in.size() > 1'400'000);
  REQUIRE(nans > 1000);
  REQUIRE(infs >= 2);
  REQUIRE(denormals > 1000);
  REQUIRE(ties > 60000);

  require_matches_host(in, device_f32_to_bf16(in));
}

TEST_CASE("Device conversion handles every alignment and tail and writes nothing outside", "[cuda][convert]") {
  LSK_REQUIRE_CUDA_DEVICE();
  constexpr std::size_t capacity = 2048 + 8;
  std::vector<float> host_f(capacity);
  lsk::rng g(7);
  for (float& x : host_f) x = g.uniform(-1000.0f, 1000.0f);
  std::vector<bf16> host_b(capacity);
  for (std::size_t i = 0; i < capacity; ++i) host_b[i] = bf16::from_bits(static_cast<std::uint16_t>(g.next_u32()));

  const auto d_f = lsk::cuda::device_buffer<float>::from_host(host_f);
  const auto d_b = lsk::cuda::device_buffer<bf16>::from_host(host_b);
  lsk::cuda::device_buffer<bf16> out_b(capacity);
  lsk::cuda::device_buffer<float> out_f(capacity);
  const bf16 sentinel_b = bf16::from_bits(0xDEADu);
  const float sentinel_f = std::bit_cast<float>(0xDEADBEEFu);

  for (std::size_t in_off : {0u, 1u, 2u, 3u}) {
    for (std::size_t out_off : {0u, 1u, 3u, 4u}) {
      for (std::size_t n : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 1023u, 1025u, 2048u}) {
        INFO("input offset " << in_off << ", output offset " << out_off << ", n " << n);
        out_b.copy_from_host(std::vector<bf16>(capacity, sentinel_b));
        out_f.copy_from_host(std::vector<float>(capacity, sentinel_f));
        lsk::cuda::f32_to_bf16(d_f.data() + in_off, out_b.data() + out_off, n);
        lsk::cuda::bf16_to_f32(d_b.data() + in_off, out_f.data() + out_off, n);
        lsk::cuda::synchronize();
        const std::vector<bf16> got_b = out_b.to_host();
        const std::vector<float> got_f = out_f.to_host();
        std::size_t wrong = 0;
        for (std::size_t i = 0; i < capacity; ++i) {
          const bool inside = i >= out_off && i < out_off + n;
          const std::uint16_t want_b = inside ? bf16::round_from_float(host_f[in_off + i - out_off]) : sentinel_b.bits;
          const float want_f = inside ? bf16::to_float(host_b[in_off + i - out_off].bits) : sentinel_f;
          wrong += got_b[i].bits != want_b ? 1u : 0u;
          wrong += std::bit_cast<std::uint32_t>(got_f[i]) != std::bit_cast<std::uint32_t>(want_f) ? 1u : 0u;
        }
        REQUIRE(wrong == 0);
      }
    }
  }
}

TEST_CASE("Device conversion of a buffer larger than one grid pass", "[cuda][convert]") {
  LSK_REQUIRE_CUDA_DEVICE();
  // 65536 blocks * 256 threads * 4 elements = 2^26 per pass; go past it with a tail.
  const std::size_t n = (std::size_t{1} << 26) + (std::size_t{1} << 22) + 3;
  std::vector<float> in(n);
  std::uint32_t h = 0x9E3779B9u;
  for (float& x : in) {
    h ^= h << 13;
    h ^= h >> 17;
    h ^= h << 5;
    x = std::bit_cast<float>(h);
  }
  const std::vector<bf16> narrowed = device_f32_to_bf16(in);
  require_matches_host(in, narrowed);
  require_matches_host(narrowed, device_bf16_to_f32(narrowed));
}

TEST_CASE("Buffer conversions require equal sizes", "[cuda][convert]") {
  LSK_REQUIRE_CUDA_DEVICE();
  lsk::cuda::device_buffer<float> f(5);
  lsk::cuda::device_buffer<bf16> b(4);
  CHECK_THROWS_AS(lsk::cuda::f32_to_bf16(f, b), lsk::shape_error);
  CHECK_THROWS_WITH(lsk::cuda::bf16_to_f32(b, f), Catch::Matchers::Contains("4 elements, output 5"));
}

// Host-side checks of the CUDA error, device and buffer helpers. They need no
// GPU and no driver: error codes are converted directly, and every call that
// would touch a device is either expected to fail or checked before it.
#include <cuda_runtime_api.h>

#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "lsk/backends/cuda/convert.hpp"
#include "lsk/backends/cuda/device.hpp"
#include "lsk/backends/cuda/device_buffer.hpp"
#include "lsk/backends/cuda/error.hpp"

using Catch::Matchers::Contains;

namespace {
cudaError_t pretend_launch_failure(int) { return cudaErrorInvalidValue; }
}  // namespace

TEST_CASE("cuda_error names the failing call, the place and the error", "[cuda][error]") {
  try {
    lsk::cuda::check(cudaErrorMemoryAllocation, "cudaMalloc(&p, 42)", "alloc.cpp", 7);
    FAIL("check did not throw");
  } catch (const lsk::cuda_error& e) {
    CHECK(e.code() == cudaErrorMemoryAllocation);
    const std::string what = e.what();
    CHECK_THAT(what, Contains("cudaMalloc(&p, 42)"));
    CHECK_THAT(what, Contains("alloc.cpp:7"));
    CHECK_THAT(what, Contains("cudaErrorMemoryAllocation"));
    CHECK_THAT(what, Contains("(2)"));
  }
  CHECK_NOTHROW(lsk::cuda::check(cudaSuccess, "cudaFree(nullptr)", "free.cpp", 1));
}

TEST_CASE("LSK_CUDA_CHECK carries the call's source text and is an lsk::error", "[cuda][error]") {
  try {
    LSK_CUDA_CHECK(pretend_launch_failure(3));
    FAIL("LSK_CUDA_CHECK did not throw");
  } catch (const lsk::error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Contains("pretend_launch_failure(3)"));
    CHECK_THAT(what, Contains("test_cuda_error.cpp:"));
    CHECK_THAT(what, Contains("cudaErrorInvalidValue"));
  }
}

TEST_CASE("A real runtime call that fails is reported by name with or without a GPU", "[cuda][error]") {
  // Device -1 never exists; without a driver the call fails for that reason instead.
  try {
    LSK_CUDA_CHECK(cudaSetDevice(-1));
    FAIL("cudaSetDevice(-1) succeeded");
  } catch (const lsk::cuda_error& e) {
    CHECK(e.code() != cudaSuccess);
    CHECK_THAT(std::string(e.what()), Contains("cudaSetDevice(-1)"));
  }
  // With a working runtime the (non-sticky) failure was cleared and does not
  // leak into the next launch check; without a driver every call keeps
  // reporting the failed initialisation, so there is nothing to clear.
  if (lsk::cuda::has_device()) CHECK(cudaGetLastError() == cudaSuccess);
}

TEST_CASE("Device probing never throws and agrees with device_count", "[cuda][device]") {
  lsk::cuda::device_probe probe;
  REQUIRE_NOTHROW(probe = lsk::cuda::probe_devices());
  CHECK(lsk::cuda::has_device() == probe.available());
  INFO("probe: " << probe.describe());
  CHECK_FALSE(probe.describe().empty());
  if (probe.status == cudaSuccess) {
    CHECK(lsk::cuda::device_count() == probe.count);
  } else {
    CHECK(probe.count == 0);
    CHECK_THAT(probe.describe(), Contains("no CUDA device"));
    try {
      static_cast<void>(lsk::cuda::device_count());
      FAIL("device_count did not throw");
    } catch (const lsk::cuda_error& e) {
      CHECK(e.code() == probe.status);
      CHECK_THAT(std::string(e.what()), Contains("cudaGetDeviceCount"));
    }
  }
}

TEST_CASE("device_buffer checks sizes before touching the device", "[cuda][buffer]") {
  lsk::cuda::device_buffer<float> empty;
  CHECK(empty.empty());
  CHECK(empty.data() == nullptr);
  CHECK(empty.size_bytes() == 0);
  CHECK(empty.to_host().empty());
  lsk::cuda::device_buffer<float> zero_sized(0);  // allocates nothing
  CHECK(zero_sized.data() == nullptr);

  std::vector<float> three(3, 1.0f);
  CHECK_THROWS_AS(empty.copy_from_host(three), lsk::shape_error);
  CHECK_THROWS_WITH(empty.copy_to_host(three), Contains("3 elements") && Contains("has 0"));

  lsk::cuda::device_buffer<float> moved(std::move(zero_sized));
  CHECK(moved.empty());
}

TEST_CASE("Conversion launchers reject bad arguments before launching", "[cuda][convert]") {
  CHECK_NOTHROW(lsk::cuda::f32_to_bf16(nullptr, nullptr, 0));  // nothing to do
  CHECK_NOTHROW(lsk::cuda::bf16_to_f32(nullptr, nullptr, 0));
  float x = 1.0f;
  CHECK_THROWS_WITH(lsk::cuda::f32_to_bf16(&x, nullptr, 1), Contains("f32_to_bf16") && Contains("null output"));
  lsk::bf16 b;
  CHECK_THROWS_WITH(lsk::cuda::bf16_to_f32(&b, nullptr, 1), Contains("bf16_to_f32") && Contains("null output"));
  CHECK_THROWS_AS(lsk::cuda::bf16_to_f32(nullptr, &x, 1), lsk::error);
}

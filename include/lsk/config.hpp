// lsk/config.hpp: version, feature macros and the host/device annotation.
#pragma once

#define LSK_VERSION_MAJOR 0
#define LSK_VERSION_MINOR 1
#define LSK_VERSION_PATCH 0

// LSK_HOST_DEVICE marks small math shared by host code and CUDA kernels (bf16
// conversion, RoPE angles). It expands to nothing for ordinary C++ compilers.
#if defined(__CUDACC__) || defined(__HIPCC__)
#define LSK_HOST_DEVICE __host__ __device__
#else
#define LSK_HOST_DEVICE
#endif

namespace lsk {
struct version_info {
  int major, minor, patch;
};
inline constexpr version_info version{LSK_VERSION_MAJOR, LSK_VERSION_MINOR, LSK_VERSION_PATCH};
}  // namespace lsk

// bench/cuda/bench_cuda_matmul.cpp: cuBLAS GEMM throughput on square problems.
//
// For each n (default 1024 2048 4096 8192) prints TFLOP/s (2 n^3 flops per
// product) of C = A B with
//   fp32  cublasSgemm, CUBLAS_DEFAULT_MATH (true FP32, what lsk::cuda::backend
//         uses by default)
//   tf32  cublasSgemm, CUBLAS_TF32_TENSOR_OP_MATH (backend_options::tf32)
//   bf16  cublasGemmEx, bf16 A and B, f32 C, CUBLAS_COMPUTE_32F
// Timing: CUDA events around `inner` back-to-back products (inner chosen so a
// repetition does ~20 GFLOP, at least 1); 2 warm-up repetitions, then the
// median of `reps` (default 9). bench/cuda/torch_matmul.py prints the same
// table for torch.matmul.
//   bench_cuda_matmul [reps] [n ...]
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "lsk/backends/cuda/convert.hpp"
#include "lsk/backends/cuda/device.hpp"
#include "lsk/backends/cuda/device_buffer.hpp"
#include "lsk/backends/cuda/error.hpp"
#include "lsk/core/bf16.hpp"
#include "lsk/core/rng.hpp"

namespace {

void check_blas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string(what) + " failed: " + cublasGetStatusName(status));
  }
}

class events {
 public:
  events() {
    LSK_CUDA_CHECK(cudaEventCreate(&start_));
    LSK_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~events() {
    static_cast<void>(cudaEventDestroy(start_));
    static_cast<void>(cudaEventDestroy(stop_));
  }
  events(const events&) = delete;
  events& operator=(const events&) = delete;
  void start(cudaStream_t s) { LSK_CUDA_CHECK(cudaEventRecord(start_, s)); }
  double stop_ms(cudaStream_t s) {
    LSK_CUDA_CHECK(cudaEventRecord(stop_, s));
    LSK_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.0f;
    LSK_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return static_cast<double>(ms);
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

enum class mode { fp32, tf32, bf16 };

// Median TFLOP/s of C = A B (n x n) in the given mode.
double measure(cublasHandle_t h, cudaStream_t s, mode m, int n, int reps, const float* a, const float* b,
               const lsk::bf16* a16, const lsk::bf16* b16, float* c) {
  const double flops = 2.0 * double(n) * double(n) * double(n);
  const int inner = std::max(1, static_cast<int>(2e10 / flops));
  const float alpha = 1.0f, beta = 0.0f;
  check_blas(cublasSetMathMode(h, m == mode::tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
             "cublasSetMathMode");
  auto once = [&] {
    if (m == mode::bf16) {
      check_blas(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, b16, CUDA_R_16BF, n, a16, CUDA_R_16BF, n,
                              &beta, c, CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx");
    } else {
      check_blas(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, b, n, a, n, &beta, c, n), "cublasSgemm");
    }
  };
  events ev;
  std::vector<double> tflops;
  for (int r = 0; r < reps + 2; ++r) {
    ev.start(s);
    for (int i = 0; i < inner; ++i) once();
    const double ms = ev.stop_ms(s);
    if (r >= 2) tflops.push_back(flops * inner / (ms * 1e-3) / 1e12);
  }
  std::sort(tflops.begin(), tflops.end());
  return tflops[tflops.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto probe = lsk::cuda::probe_devices();
    if (!probe.available()) {
      std::printf("skipped: %s\n", probe.describe().c_str());
      return 0;
    }
    int reps = 9;
    std::vector<int> sizes;
    if (argc > 1) reps = std::max(1, std::atoi(argv[1]));
    for (int i = 2; i < argc; ++i) sizes.push_back(std::atoi(argv[i]));
    if (sizes.empty()) sizes = {1024, 2048, 4096, 8192};
    const int largest = *std::max_element(sizes.begin(), sizes.end());
    const auto elems = static_cast<std::size_t>(largest) * static_cast<std::size_t>(largest);

    std::vector<float> host(elems);
    lsk::rng g(1);
    for (float& v : host) v = g.uniform(-1.0f, 1.0f);
    const auto a = lsk::cuda::device_buffer<float>::from_host(host);
    for (float& v : host) v = g.uniform(-1.0f, 1.0f);
    const auto b = lsk::cuda::device_buffer<float>::from_host(host);
    lsk::cuda::device_buffer<float> c(elems);
    lsk::cuda::device_buffer<lsk::bf16> a16(elems), b16(elems);
    lsk::cuda::f32_to_bf16(a, a16);
    lsk::cuda::f32_to_bf16(b, b16);
    lsk::cuda::synchronize();

    cudaStream_t s = nullptr;
    LSK_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    cublasHandle_t h = nullptr;
    check_blas(cublasCreate(&h), "cublasCreate");
    check_blas(cublasSetStream(h, s), "cublasSetStream");

    std::printf("cuBLAS GEMM, C = A B square n x n, TFLOP/s (median of %d), %s\n", reps,
                lsk::cuda::device_name(lsk::cuda::current_device()).c_str());
    std::printf("%8s %12s %12s %12s\n", "n", "fp32", "tf32", "bf16");
    for (int n : sizes) {
      const double fp32 = measure(h, s, mode::fp32, n, reps, a.data(), b.data(), a16.data(), b16.data(), c.data());
      const double tf32 = measure(h, s, mode::tf32, n, reps, a.data(), b.data(), a16.data(), b16.data(), c.data());
      const double bf16 = measure(h, s, mode::bf16, n, reps, a.data(), b.data(), a16.data(), b16.data(), c.data());
      std::printf("%8d %12.1f %12.1f %12.1f\n", n, fp32, tf32, bf16);
    }
    check_blas(cublasDestroy(h), "cublasDestroy");
    LSK_CUDA_CHECK(cudaStreamDestroy(s));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_matmul: %s\n", e.what());
    return 1;
  }
}

// The conformance suite over the CUDA backend: every op against the reference
// backend (f32, f64) and against finite differences (f64), on host tensors
// staged to the device (lsk/testing/staging.hpp). Then checks the suite's small
// sizes cannot make: ops called on device buffers directly at training sizes,
// many blocks per reduction, TF32 against FP32, out-of-range ids.
// Without a CUDA device every test prints "skipped: no CUDA device (...)".
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "lsk/backends/cuda/backend.hpp"
#include "lsk/backends/cuda/device_buffer.hpp"
#include "lsk/backends/reference/backend.hpp"

using lsk_conformance_backends = std::tuple<lsk::cuda::backend>;
#include "lsk/testing/conformance.hpp"

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

using lsk::const_view;
using lsk::index_t;
using lsk::shape;
using lsk::tensor;
using lsk::tensor_view;
using lsk::cuda::device_buffer;

template <class T>
device_buffer<T> upload(const tensor<T>& t) {
  return device_buffer<T>::from_host(t.values());
}

template <class T>
tensor<T> download(const device_buffer<T>& d, shape extents) {
  tensor<T> t(extents);
  d.copy_to_host(t.values());
  return t;
}

template <class T>
const_view<T> cview(const device_buffer<T>& d, shape extents) {
  return const_view<T>(d.data(), extents);
}

template <class T>
tensor_view<T> mview(device_buffer<T>& d, shape extents) {
  return tensor_view<T>(d.data(), extents);
}

}  // namespace

TEST_CASE("cuda backend reports availability without throwing", "[cuda][backend]") {
  std::string why;
  REQUIRE_NOTHROW(why = lsk::cuda::backend::unavailable());
  CHECK(why.empty() == lsk::cuda::has_device());
  if (!why.empty()) CHECK_THAT(why, Catch::Matchers::Contains("no CUDA device"));
}

TEST_CASE("cuda row ops at training sizes on device buffers match the reference", "[cuda][backend]") {
  LSK_REQUIRE_CUDA_DEVICE();
  lsk::cuda::backend be;
  lsk::backends::reference ref;
  lsk::rng g(11);
  const index_t rows = 48, d = 4096, vocab = 32000;

  // RMSNorm forward + backward (dw accumulates onto a random start).
  const auto x = lsk::testing::random_tensor<float>(g, {rows, d});
  const auto w = lsk::testing::random_tensor<float>(g, {d});
  const auto dy = lsk::testing::random_tensor<float>(g, {rows, d});
  const auto dw0 = lsk::testing::random_tensor<float>(g, {d});
  tensor<float> y_ref(shape{rows, d}), rstd_ref(shape{rows}), dx_ref(shape{rows, d}), dw_ref = dw0;
  lsk::rmsnorm_forward<lsk::backends::reference, float>(ref, x, w, 1e-5f, y_ref.view(), rstd_ref.view());
  lsk::rmsnorm_backward<lsk::backends::reference, float>(ref, dy, x, w, rstd_ref, dx_ref.view(), dw_ref.view());

  auto dx_in = upload(x), dw_in = upload(w), ddy = upload(dy), ddw = upload(dw0);
  device_buffer<float> dyv(static_cast<std::size_t>(rows * d)), drstd(static_cast<std::size_t>(rows)),
      ddx(static_cast<std::size_t>(rows * d));
  lsk::rmsnorm_forward<lsk::cuda::backend, float>(be, cview(dx_in, {rows, d}), cview(dw_in, {d}), 1e-5f,
                                                  mview(dyv, {rows, d}), mview(drstd, {rows}));
  lsk::rmsnorm_backward<lsk::cuda::backend, float>(be, cview(ddy, {rows, d}), cview(dx_in, {rows, d}),
                                                   cview(dw_in, {d}), cview(drstd, {rows}), mview(ddx, {rows, d}),
                                                   mview(ddw, {d}));
  be.synchronize();
  CHECK(lsk::testing::scaled_max_error(download(dyv, {rows, d}), y_ref) <= 1e-5);
  CHECK(lsk::testing::scaled_max_error(download(drstd, {rows}), rstd_ref) <= 1e-5);
  CHECK(lsk::testing::scaled_max_error(download(ddx, {rows, d}), dx_ref) <= 1e-5);
  CHECK(lsk::testing::scaled_max_error(download(ddw, {d}), dw_ref) <= 1e-5);

  // Cross-entropy over a Llama vocabulary, some rows masked.
  const index_t ce_rows = 8;
  const auto logits = lsk::testing::random_tensor<float>(g, {ce_rows, vocab}, 4.0);
  auto targets = lsk::testing::random_ids(g, ce_rows, vocab);
  tensor<std::uint8_t> mask(shape{ce_rows}, std::uint8_t{1});
  mask(3) = 0;
  targets(3) = -1;
  tensor<float> lse_ref(shape{ce_rows}), dl_ref(shape{ce_rows, vocab});
  const auto r_ref = lsk::cross_entropy_forward<lsk::backends::reference, float>(ref, logits, targets.view(),
                                                                                 mask.view(), lse_ref.view());
  lsk::cross_entropy_backward<lsk::backends::reference, float>(ref, logits, targets.view(), mask.view(), lse_ref, 1.0,
                                                               r_ref.normalizer, dl_ref.view());
  auto dlogits = upload(logits);
  auto dtargets = device_buffer<std::int32_t>::from_host(targets.values());
  auto dmask = device_buffer<std::uint8_t>::from_host(mask.values());
  device_buffer<float> dlse(static_cast<std::size_t>(ce_rows)), ddl(static_cast<std::size_t>(ce_rows * vocab));
  const auto r = lsk::cross_entropy_forward<lsk::cuda::backend, float>(
      be, cview(dlogits, {ce_rows, vocab}), cview(dtargets, {ce_rows}), cview(dmask, {ce_rows}), mview(dlse, {ce_rows}),
      static_cast<double>(ce_rows - 1));
  lsk::cross_entropy_backward<lsk::cuda::backend, float>(
      be, cview(dlogits, {ce_rows, vocab}), cview(dtargets, {ce_rows}), cview(dmask, {ce_rows}), cview(dlse, {ce_rows}),
      1.0, r.normalizer, mview(ddl, {ce_rows, vocab}));
  be.synchronize();
  CHECK(std::abs(r.sum - r_ref.sum) <= 1e-5 * std::abs(r_ref.sum));
  CHECK(lsk::testing::scaled_max_error(download(dlse, {ce_rows}), lse_ref) <= 1e-6);
  CHECK(lsk::testing::scaled_max_error(download(ddl, {ce_rows, vocab}), dl_ref) <= 1e-5);
}

TEST_CASE("cuda reductions over many blocks accumulate in double", "[cuda][backend]") {
  LSK_REQUIRE_CUDA_DEVICE();
  lsk::cuda::backend be;
  lsk::backends::reference ref;
  lsk::rng g(5);
  for (index_t n : {index_t{1}, index_t{255}, index_t{257}, index_t{3'000'001}}) {
    INFO("n = " << n);
    auto x = lsk::testing::random_tensor<float>(g, {n});
    x(n - 1) = -7.5f;  // the largest magnitude, last
    const auto dx = upload(x);
    const auto v = cview(dx, {n});
    CHECK(std::abs(lsk::sum(be, v) - lsk::sum(ref, x.view())) <= 1e-9 * static_cast<double>(n));
    CHECK(std::abs(lsk::sum_squares(be, v) - lsk::sum_squares(ref, x.view())) <= 1e-9 * static_cast<double>(n));
    CHECK(lsk::max_abs(be, v) == 7.5);
  }
  // sum_rows with many row chunks.
  const index_t rows = 10'000, cols = 300;
  const auto m = lsk::testing::random_tensor<double>(g, {rows, cols});
  tensor<double> want(shape{cols});
  lsk::sum_rows<lsk::backends::reference, double>(ref, m, want.view());
  const auto dm = upload(m);
  device_buffer<double> dy(static_cast<std::size_t>(cols));
  lsk::sum_rows<lsk::cuda::backend, double>(be, cview(dm, {rows, cols}), mview(dy, {cols}));
  be.synchronize();
  CHECK(lsk::testing::scaled_max_error(download(dy, {cols}), want) <= 1e-12);
}

TEST_CASE("cuda gemm: FP32 by default, TF32 or bf16 tensor cores on request", "[cuda][backend][gemm]") {
  LSK_REQUIRE_CUDA_DEVICE();
  lsk::cuda::backend be;
  lsk::backends::reference ref;
  lsk::rng g(3);
  const index_t n = 512;
  const auto a = lsk::testing::random_tensor<float>(g, {n, n});
  const auto b = lsk::testing::random_tensor<float>(g, {n, n});
  tensor<float> want(shape{n, n});
  lsk::matmul<lsk::backends::reference, float>(ref, a, b.view().transpose(), want.view());
  const auto da = upload(a), db = upload(b);
  device_buffer<float> dc(static_cast<std::size_t>(n * n));
  const auto bt = cview(db, {n, n}).transpose();
  lsk::matmul<lsk::cuda::backend, float>(be, cview(da, {n, n}), bt, mview(dc, {n, n}));
  be.synchronize();
  const double fp32_err = lsk::testing::scaled_max_error(download(dc, {n, n}), want);
  CHECK(fp32_err <= 2e-5);

  be.set_matmul_precision(lsk::cuda::matmul_precision::tf32);
  lsk::matmul<lsk::cuda::backend, float>(be, cview(da, {n, n}), bt, mview(dc, {n, n}));
  be.synchronize();
  const double tf32_err = lsk::testing::scaled_max_error(download(dc, {n, n}), want);
  be.set_matmul_precision(lsk::cuda::matmul_precision::bf16);
  lsk::matmul<lsk::cuda::backend, float>(be, cview(da, {n, n}), bt, mview(dc, {n, n}));
  be.synchronize();
  const double bf16_err = lsk::testing::scaled_max_error(download(dc, {n, n}), want);
  INFO("FP32 error " << fp32_err << ", TF32 error " << tf32_err << ", bf16 error " << bf16_err);
  CHECK(tf32_err <= 2e-2);
  CHECK(tf32_err > fp32_err);  // TF32 really ran (10-bit mantissas)
  CHECK(bf16_err <= 5e-2);
  // Tensor cores really ran. FAST_16BF lets cuBLAS choose bf16 or TF32 kernels
  // (an H100 ran this 512^3 product as TF32), so only FP32 is ruled out.
  CHECK(bf16_err > fp32_err);
}

TEST_CASE("cuda kernels turn out-of-range ids into NaN instead of faulting", "[cuda][backend]") {
  LSK_REQUIRE_CUDA_DEVICE();
  lsk::cuda::backend be;
  const index_t vocab = 4, dim = 3;
  const tensor<float> table(shape{vocab, dim}, 1.0f);
  const tensor<std::int32_t> ids(shape{3}, {0, 4, -1});
  const auto dtable = upload(table);
  const auto dids = device_buffer<std::int32_t>::from_host(ids.values());
  device_buffer<float> dout(static_cast<std::size_t>(3 * dim));
  lsk::embedding_forward<lsk::cuda::backend, float>(be, cview(dids, {3}), cview(dtable, {vocab, dim}),
                                                    mview(dout, {3, dim}));
  be.synchronize();
  const auto out = download(dout, {3, dim});
  for (index_t j = 0; j < dim; ++j) {
    CHECK(out(0, j) == 1.0f);
    CHECK(std::isnan(out(1, j)));
    CHECK(std::isnan(out(2, j)));
  }
  // The gradient rows of bad ids are dropped; the good one accumulates.
  auto dgrad = upload(table);
  const tensor<float> ones(shape{3, dim}, 1.0f);
  const auto dones = upload(ones);
  lsk::embedding_backward<lsk::cuda::backend, float>(be, cview(dids, {3}), cview(dones, {3, dim}),
                                                     mview(dgrad, {vocab, dim}));
  be.synchronize();
  const auto grad = download(dgrad, {vocab, dim});
  for (index_t j = 0; j < dim; ++j) {
    CHECK(grad(0, j) == 2.0f);
    CHECK(grad(3, j) == 1.0f);
  }
}

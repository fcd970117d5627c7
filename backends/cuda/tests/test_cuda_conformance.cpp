// The conformance suite over the CUDA backend: every op against the reference
// backend (f32, f64) and against finite differences (f64), on host tensors
// staged to the device (lsk/testing/staging.hpp). Then checks the suite's small
// sizes cannot make: ops called on device buffers directly at training sizes,
// many blocks per reduction, TF32 against FP32, out-of-range ids.
// Without a CUDA device every test prints "skipped: no CUDA device (...)".
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "lsk/backends/cuda/backend.hpp"
#include "lsk/backends/cuda/device_buffer.hpp"
#include "lsk/backends/reference/backend.hpp"
#include "lsk/core/bf16.hpp"
#include "lsk/ops/gemm_operand_reuse.hpp"

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

TEST_CASE("cuda sum_squares_total adds every tensor's sum of squares with one wait", "[cuda][backend]") {
  LSK_REQUIRE_CUDA_DEVICE();
  lsk::cuda::backend be;
  lsk::backends::reference ref;
  lsk::rng g(6);
  // Sizes from one element to a many-block tensor, an empty one among them.
  std::vector<tensor<float>> host;
  std::vector<device_buffer<float>> dev;
  double want = 0;
  for (index_t n : {index_t{1}, index_t{768}, index_t{0}, index_t{257}, index_t{2'000'003}, index_t{33}}) {
    host.push_back(lsk::testing::random_tensor<float>(g, {n}));
    want += lsk::sum_squares(ref, host.back().view());
    dev.push_back(upload(host.back()));
  }
  std::vector<tensor_view<float>> views;
  for (std::size_t i = 0; i < dev.size(); ++i) views.push_back(mview(dev[i], host[i].extents()));
  const double got = lsk::sum_squares_total<lsk::cuda::backend, float>(be, views);
  CHECK(std::abs(got - want) <= 1e-12 * want);
  CHECK(lsk::sum_squares_total<lsk::cuda::backend, float>(be, {}) == 0.0);
  CHECK(lsk::sum_squares_total<lsk::cuda::backend, float>(be, views) == got);  // deterministic
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

// The f64 values of a float tensor, rounded to bf16 first when `to_bf16`.
tensor<double> widened(const tensor<float>& t, bool to_bf16) {
  std::vector<double> v;
  v.reserve(static_cast<std::size_t>(t.numel()));
  for (const float x : t.values()) v.push_back(to_bf16 ? static_cast<double>(lsk::bf16(x)) : static_cast<double>(x));
  return tensor<double>(t.extents(), std::move(v));
}

TEST_CASE("cuda gemm: FP32 by default, TF32 or bf16 tensor cores on request", "[cuda][backend][gemm]") {
  LSK_REQUIRE_CUDA_DEVICE();
  lsk::cuda::backend be;
  lsk::backends::reference ref;
  lsk::rng g(3);
  const index_t n = 512;
  const auto a = lsk::testing::random_tensor<float>(g, {n, n});
  const auto b = lsk::testing::random_tensor<float>(g, {n, n});
  tensor<double> want(shape{n, n}), want_bf16(shape{n, n});
  const auto b64 = widened(b, false), b16 = widened(b, true);
  lsk::matmul<lsk::backends::reference, double>(ref, widened(a, false), b64.view().transpose(), want.view());
  lsk::matmul<lsk::backends::reference, double>(ref, widened(a, true), b16.view().transpose(), want_bf16.view());
  const auto da = upload(a), db = upload(b);
  device_buffer<float> dc(static_cast<std::size_t>(n * n));
  const auto bt = cview(db, {n, n}).transpose();
  const auto product = [&](lsk::cuda::matmul_precision p) {
    be.set_matmul_precision(p);
    lsk::matmul<lsk::cuda::backend, float>(be, cview(da, {n, n}), bt, mview(dc, {n, n}));
    be.synchronize();
    return widened(download(dc, {n, n}), false);
  };
  const auto fp32 = product(lsk::cuda::matmul_precision::f32);
  const auto tf32 = product(lsk::cuda::matmul_precision::tf32);
  const auto bf16 = product(lsk::cuda::matmul_precision::bf16);
  const double fp32_err = lsk::testing::scaled_max_error(fp32, want);
  const double tf32_err = lsk::testing::scaled_max_error(tf32, want);
  const double bf16_err = lsk::testing::scaled_max_error(bf16, want);
  const double bf16_rounded_err = lsk::testing::scaled_max_error(bf16, want_bf16);
  INFO("FP32 error " << fp32_err << ", TF32 error " << tf32_err << ", bf16 error " << bf16_err
                     << ", bf16 against the product of the bf16-rounded operands " << bf16_rounded_err);
  CHECK(fp32_err <= 2e-5);
  CHECK(tf32_err <= 2e-2);
  CHECK(tf32_err > fp32_err);  // TF32 really ran (10-bit mantissas)
  CHECK(bf16_err <= 5e-2);
  // bf16 is the exact product of the bf16-rounded operands up to f32
  // accumulation: an FP32-sized error against that oracle, while against the
  // f32 operands its error is that of 8-bit mantissas, above TF32's.
  CHECK(bf16_rounded_err <= 2e-5);
  CHECK(bf16_err > tf32_err);
}

TEST_CASE("cuda gemm in bf16: batches, broadcast, row pitches and transposes", "[cuda][backend][gemm]") {
  LSK_REQUIRE_CUDA_DEVICE();
  lsk::cuda::backend be(lsk::cuda::backend_options{.matmul = lsk::cuda::matmul_precision::bf16});
  lsk::backends::reference ref;
  lsk::rng g(11);
  // a: 3 matrices of (m, k) inside rows of pitch k + 5 (a column slice of a wider tensor);
  // b: one (n, k) matrix, transposed and broadcast over the batch; c: (3, m, n).
  // Odd extents take the one-element packing; the second round (multiples of 4) the vector one.
  for (const auto& [m, n, k, pad] : {std::tuple<index_t, index_t, index_t, index_t>{37, 29, 70, 5}, {64, 48, 96, 4}}) {
    const index_t batch = 3, pitch = k + pad;
    const auto a_wide = lsk::testing::random_tensor<float>(g, {batch, m, pitch});
    const auto b = lsk::testing::random_tensor<float>(g, {n, k});
    const auto a64 = widened(a_wide, true), b64 = widened(b, true);
    const tensor_view<const double> a_slice(a64.view().data(), shape{batch, m, k}, shape{m * pitch, pitch, 1});
    tensor<double> want(shape{batch, m, n});
    lsk::matmul<lsk::backends::reference, double>(ref, a_slice, b64.view().transpose(), want.view());
    const auto da = upload(a_wide), db = upload(b);
    device_buffer<float> dc(static_cast<std::size_t>(batch * m * n));
    const const_view<float> a_dev(da.data(), shape{batch, m, k}, shape{m * pitch, pitch, 1});
    lsk::matmul<lsk::cuda::backend, float>(be, a_dev, cview(db, {n, k}).transpose(), mview(dc, {batch, m, n}));
    be.synchronize();
    INFO("m " << m << ", n " << n << ", k " << k);
    CHECK(lsk::testing::scaled_max_error(widened(download(dc, {batch, m, n}), false), want) <= 2e-5);
    // Transposed a (each stored (k, m)), accumulating into c with beta = 1.
    const auto at = lsk::testing::random_tensor<float>(g, {batch, k, m});
    const auto at64 = widened(at, true);
    tensor<double> want2 = want;
    lsk::matmul<lsk::backends::reference, double>(ref, at64.view().transpose(), b64.view().transpose(), want2.view(),
                                                  1.0, 1.0);
    const auto dat = upload(at);
    lsk::matmul<lsk::cuda::backend, float>(be, cview(dat, {batch, k, m}).transpose(), cview(db, {n, k}).transpose(),
                                           mview(dc, {batch, m, n}), 1.0f, 1.0f);
    be.synchronize();
    CHECK(lsk::testing::scaled_max_error(widened(download(dc, {batch, m, n}), false), want2) <= 2e-5);
  }
}

TEST_CASE("cuda gemm in bf16: operand copies reused in a scope, dropped when a product overwrites them",
          "[cuda][backend][gemm]") {
  LSK_REQUIRE_CUDA_DEVICE();
  lsk::cuda::backend be(lsk::cuda::backend_options{.matmul = lsk::cuda::matmul_precision::bf16});
  lsk::rng g(12);
  const index_t n = 96;
  const auto a = lsk::testing::random_tensor<float>(g, {n, n});
  const auto b = lsk::testing::random_tensor<float>(g, {n, n});
  const auto d = lsk::testing::random_tensor<float>(g, {n, n});
  const auto db = upload(b), dd = upload(d);
  const std::size_t size = static_cast<std::size_t>(n * n);
  // out = op(lhs) rhs or lhs rhs^T.
  const auto product = [&](const device_buffer<float>& lhs, const device_buffer<float>& rhs, device_buffer<float>& out,
                           bool transpose_lhs, bool transpose_rhs) {
    const auto l = cview(lhs, {n, n}), r = cview(rhs, {n, n});
    lsk::matmul<lsk::cuda::backend, float>(be, transpose_lhs ? l.transpose() : l, transpose_rhs ? r.transpose() : r,
                                           mview(out, {n, n}));
  };
  // a b, a^T b; then a <- (a d) d^T, written by a product; then a b with the new a.
  const auto run = [&](bool in_scope) {
    std::optional<lsk::gemm_operand_reuse<lsk::cuda::backend>> reuse;
    if (in_scope) reuse.emplace(be);
    auto da = upload(a);
    device_buffer<float> x(size), y(size), ad(size), z(size);
    product(da, db, x, false, false);
    product(da, db, y, true, false);  // the same stored a, transposed: its kept copy in a scope
    product(da, dd, ad, false, false);
    product(ad, dd, da, false, true);  // overwrites a: a scope must drop a's copy
    product(da, db, z, false, false);
    be.synchronize();
    return std::vector<tensor<float>>{download(x, {n, n}), download(y, {n, n}), download(z, {n, n})};
  };
  const auto fresh = run(false), reused = run(true);
  // Bit for bit: the same bf16 copies, made once or made again.
  CHECK(reused[0].values() == fresh[0].values());
  CHECK(reused[1].values() == fresh[1].values());
  CHECK(reused[2].values() == fresh[2].values());
  CHECK(fresh[2].values() != fresh[0].values());  // a did change
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

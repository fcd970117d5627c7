// A consumer's program: lsk included as an outside project would include it,
// and a tiny next-token model trained with lsk's ops on the cpu backend.
//
// Model: x = table[ids] (n, dim); logits = x @ w (n, vocab); loss = masked
// cross entropy against a fixed rule target = (3 * id + 1) mod vocab.
// Backward through cross_entropy, matmul and embedding; plain SGD with axpy.
// Exits 0 when the loss falls steadily, 1 otherwise.
//
// LSK_EXPECT_CBLAS (0/1, set by the test's CMakeLists) says whether the
// package was expected to hand the OpenBLAS define and library to us together.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <lsk/recipe.hpp>

#if !defined(LSK_EXPECT_CBLAS)
#error "LSK_EXPECT_CBLAS must be defined by the consumer test"
#endif
static_assert(lsk::backends::blas_available() == (LSK_EXPECT_CBLAS != 0),
              "lsk::lsk did not carry LSK_CPU_HAS_CBLAS as expected");

int main() {
  using T = float;
  using be_t = lsk::backends::cpu;
  using lsk::shape;
  using lsk::tensor;
  constexpr lsk::index_t vocab = 16, dim = 8, n = 48;
  constexpr int steps = 30;
  constexpr T lr = 1.0f;

  be_t be;
  lsk::rng gen(2024);
  tensor<T> table(shape{vocab, dim}), w(shape{dim, vocab});
  for (auto& v : table.values()) v = static_cast<T>(0.5 * gen.normal());
  for (auto& v : w.values()) v = static_cast<T>(0.5 * gen.normal());

  tensor<std::int32_t> ids(shape{n}), targets(shape{n});
  tensor<std::uint8_t> mask(shape{n}, std::uint8_t{1});
  for (lsk::index_t t = 0; t < n; ++t) {
    ids(t) = static_cast<std::int32_t>(gen.below(vocab));
    targets(t) = (3 * ids(t) + 1) % static_cast<std::int32_t>(vocab);
  }
  mask(n - 1) = 0;  // a masked row: its target is ignored
  targets(n - 1) = -1;

  tensor<T> x(shape{n, dim}), logits(shape{n, vocab}), lse(shape{n}), dlogits(shape{n, vocab});
  tensor<T> dx(shape{n, dim}), dw(shape{dim, vocab}), dtable(shape{vocab, dim});

  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    lsk::embedding_forward<be_t, T>(be, ids.view(), table, x.view());
    lsk::matmul<be_t, T>(be, x, w, logits.view());
    const auto r = lsk::cross_entropy_forward<be_t, T>(be, logits, targets.view(), mask.view(), lse.view());
    losses.push_back(r.loss);

    lsk::cross_entropy_backward<be_t, T>(be, logits, targets.view(), mask.view(), lse, 1.0, r.normalizer,
                                         dlogits.view());
    lsk::matmul_backward<be_t, T>(be, x, w, dlogits, dx.view(), dw.view());
    lsk::fill<be_t, T>(be, dtable.view(), T(0));
    lsk::embedding_backward<be_t, T>(be, ids.view(), dx, dtable.view());
    lsk::axpy<be_t, T>(be, -lr, dw, w.view());
    lsk::axpy<be_t, T>(be, -lr, dtable, table.view());
  }

  std::printf("lsk %d.%d.%d, backend %s, blas %d: loss %.4f -> %.4f over %d steps\n", lsk::version.major,
              lsk::version.minor, lsk::version.patch, std::string(be_t::name).c_str(),
              int(lsk::backends::blas_available()), losses.front(), losses.back(), steps);
  int rises = 0;
  for (std::size_t i = 1; i < losses.size(); ++i) rises += losses[i] > losses[i - 1] + 1e-6 ? 1 : 0;
  if (!(losses.back() < 0.5 * losses.front()) || rises > 2) {
    std::printf("FAIL: the loss did not fall (%d rises)\n", rises);
    for (double l : losses) std::printf("  %.6f\n", l);
    return 1;
  }
  std::printf("PASS\n");
  return 0;
}

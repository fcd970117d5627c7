// The Attention concept (archetype and broken types both ways); the naive
// attention, in both product groupings, against a direct f64 computation; and
// the tiled attention against the naive one: out, lse, dq, dk, dv over random
// shapes (lengths not divisible by the tile, GQA ratios 1/2/4/8, head dims
// 32..256, plain causal and document-masked, k_len > q_len).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "lsk/attention/naive.hpp"
#include "lsk/attention/tiled.hpp"
#include "lsk/backends/cpu/backend.hpp"
#include "lsk/backends/reference/backend.hpp"
#include "lsk/concepts/archetypes.hpp"
#include "lsk/concepts/attention.hpp"
#include "lsk/concepts/attention_archetypes.hpp"
#include "lsk/testing/compare.hpp"
#include "lsk/testing/random.hpp"

namespace {
using lsk::index_t;
using lsk::shape;
using lsk::tensor;
namespace att = lsk::attention;
namespace arch = lsk::archetypes;

static_assert(lsk::Attention<arch::attention, arch::backend>);
static_assert(lsk::Attention<att::naive_attention, lsk::backends::cpu>);
static_assert(lsk::Attention<att::naive_attention, lsk::backends::reference>);
static_assert(lsk::Attention<att::tiled_attention, lsk::backends::cpu>);
static_assert(lsk::Attention<att::tiled_attention, lsk::backends::reference>);
static_assert(lsk::attention_for<att::tiled_attention, lsk::backends::cpu, double>);
static_assert(!lsk::Attention<arch::attention_without_backward, arch::backend>);
static_assert(!lsk::Attention<arch::attention_without_name, arch::backend>);
static_assert(!lsk::Attention<arch::attention_with_mutating_forward, arch::backend>);
static_assert(!lsk::Attention<arch::attention_without_saved_size, arch::backend>);
static_assert(!lsk::Attention<arch::attention, int>);

template <class A>
constexpr bool models_attention() {
  return lsk::Attention<A, arch::backend>;
}

struct attention_result {
  tensor<double> out, lse, dq, dk, dv;
};

template <class T>
tensor<double> to_double(const tensor<T>& t) {
  tensor<double> r(t.extents());
  for (std::size_t i = 0; i < t.values().size(); ++i) r.values()[i] = static_cast<double>(t.values()[i]);
  return r;
}
template <class T>
tensor<T> from_double(const tensor<double>& t) {
  tensor<T> r(t.extents());
  for (std::size_t i = 0; i < t.values().size(); ++i) r.values()[i] = static_cast<T>(t.values()[i]);
  return r;
}

struct problem {
  att::attention_shape s;
  tensor<double> q, k, v, dout;
  tensor<std::int32_t> docs;  // empty: plain causal
  att::attention_mask mask() const { return !docs.empty() ? att::document_mask(docs.view()) : att::causal_mask(); }
};

problem random_problem(lsk::rng& g, att::attention_shape s, index_t documents) {
  problem p{s,
            lsk::testing::random_tensor<double>(g, shape{s.batch * s.q_len, s.heads, s.head_dim}),
            lsk::testing::random_tensor<double>(g, shape{s.batch * s.k_len, s.kv_heads, s.head_dim}),
            lsk::testing::random_tensor<double>(g, shape{s.batch * s.k_len, s.kv_heads, s.head_dim}),
            lsk::testing::random_tensor<double>(g, shape{s.batch * s.q_len, s.heads, s.head_dim}),
            {}};
  if (documents > 0) {
    // Sorted document ids with random boundaries (as a packer makes them).
    p.docs = tensor<std::int32_t>(shape{s.batch * s.k_len});
    for (index_t b = 0; b < s.batch; ++b) {
      std::int32_t doc = 0;
      for (index_t j = 0; j < s.k_len; ++j) {
        if (j > 0 && g.below(static_cast<std::uint32_t>(std::max<index_t>(1, s.k_len / documents))) == 0) ++doc;
        p.docs(b * s.k_len + j) = doc;
      }
    }
  }
  return p;
}

// The oracle: the naive attention in f64 on the reference backend, and the
// log-sum-exp by direct summation.
attention_result naive_reference(const problem& p, double scale) {
  lsk::backends::reference be;
  const auto& s = p.s;
  att::naive_attention naive;
  tensor<double> saved(shape{naive.saved_size(s)}), scratch(shape{naive.scratch_size(s)});
  attention_result r{tensor<double>(p.q.extents()), tensor<double>(shape{s.batch * s.q_len, s.heads}),
                     tensor<double>(p.q.extents()), tensor<double>(p.k.extents()), tensor<double>(p.k.extents())};
  naive.forward(be, s, p.mask(), p.q.view(), p.k.view(), p.v.view(), scale, saved.view(), r.out.view());
  naive.backward(be, s, p.mask(), p.q.view(), p.k.view(), p.v.view(), r.out.view(), saved.view(), p.dout.view(), scale,
                 scratch.view(), r.dq.view(), r.dk.view(), r.dv.view());
  const index_t r_ = s.group(), off = s.k_len - s.q_len;
  for (index_t b = 0; b < s.batch; ++b) {
    for (index_t i = 0; i < s.q_len; ++i) {
      for (index_t h = 0; h < s.heads; ++h) {
        double mx = -INFINITY;
        std::vector<double> sc;
        for (index_t j = 0; j <= i + off; ++j) {
          if (!p.docs.empty() && p.docs(b * s.k_len + j) != p.docs(b * s.k_len + i + off)) continue;
          double dot = 0;
          for (index_t e = 0; e < s.head_dim; ++e) dot += p.q(b * s.q_len + i, h, e) * p.k(b * s.k_len + j, h / r_, e);
          sc.push_back(scale * dot);
          mx = std::max(mx, scale * dot);
        }
        double sum = 0;
        for (double x : sc) sum += std::exp(x - mx);
        r.lse(b * s.q_len + i, h) = mx + std::log(sum);
      }
    }
  }
  return r;
}

template <class T>
attention_result run_tiled(const problem& p, double scale, const att::tile_config& tiles) {
  lsk::backends::cpu be;
  const auto& s = p.s;
  att::tiled_attention tiled{tiles};
  const auto q = from_double<T>(p.q), k = from_double<T>(p.k), v = from_double<T>(p.v), dout = from_double<T>(p.dout);
  auto out = lsk::testing::poisoned<T>(q.extents()), dq = lsk::testing::poisoned<T>(q.extents());
  auto dk = lsk::testing::poisoned<T>(k.extents()), dv = lsk::testing::poisoned<T>(k.extents());
  auto lse = lsk::testing::poisoned<T>(shape{tiled.saved_size(s)});
  auto delta = lsk::testing::poisoned<T>(shape{tiled.scratch_size(s)});
  tiled.forward(be, s, p.mask(), q.view(), k.view(), v.view(), static_cast<T>(scale), lse.view(), out.view());
  tiled.backward(be, s, p.mask(), q.view(), k.view(), v.view(), out.view(), lse.view(), dout.view(),
                 static_cast<T>(scale), delta.view(), dq.view(), dk.view(), dv.view());
  auto lse2 = to_double(lse);
  return {to_double(out), tensor<double>(shape{s.batch * s.q_len, s.heads}, lse2.values()), to_double(dq),
          to_double(dk), to_double(dv)};
}

template <class T>
attention_result run_naive_cpu(const problem& p, double scale) {
  lsk::backends::cpu be;
  const auto& s = p.s;
  att::naive_attention naive;
  const auto q = from_double<T>(p.q), k = from_double<T>(p.k), v = from_double<T>(p.v), dout = from_double<T>(p.dout);
  tensor<T> saved(shape{naive.saved_size(s)}), scratch(shape{naive.scratch_size(s)});
  auto out = lsk::testing::poisoned<T>(q.extents()), dq = lsk::testing::poisoned<T>(q.extents());
  tensor<T> dk(k.extents(), T(0)), dv(k.extents(), T(0));
  naive.forward(be, s, p.mask(), q.view(), k.view(), v.view(), static_cast<T>(scale), saved.view(), out.view());
  naive.backward(be, s, p.mask(), q.view(), k.view(), v.view(), out.view(), saved.view(), dout.view(),
                 static_cast<T>(scale), scratch.view(), dq.view(), dk.view(), dv.view());
  return {to_double(out), {}, to_double(dq), to_double(dk), to_double(dv)};
}

// Attention written out element by element in f64, sharing no code with the
// library: S = scale q k^T over the causal (and same-document) keys, P =
// softmax(S), O = P v; dP = dO v^T, dS = P (dP - rowsum(P dP)), dq = scale dS
// k, dk = scale dS^T q, dv = P^T dO, kv gradients summed over a group's heads.
attention_result direct_attention(const problem& p, double scale) {
  const auto& s = p.s;
  attention_result r{tensor<double>(p.q.extents(), 0.0),
                     {},
                     tensor<double>(p.q.extents(), 0.0),
                     tensor<double>(p.k.extents(), 0.0),
                     tensor<double>(p.k.extents(), 0.0)};
  const index_t group = s.heads / s.kv_heads, off = s.k_len - s.q_len;
  for (index_t b = 0; b < s.batch; ++b) {
    for (index_t h = 0; h < s.heads; ++h) {
      const index_t g = h / group;
      for (index_t i = 0; i < s.q_len; ++i) {
        const index_t qi = b * s.q_len + i;
        std::vector<index_t> keys;
        for (index_t j = 0; j <= i + off; ++j) {
          if (p.docs.empty() || p.docs(b * s.k_len + j) == p.docs(b * s.k_len + i + off))
            keys.push_back(b * s.k_len + j);
        }
        std::vector<double> prob(keys.size()), dprob(keys.size());
        double mx = -INFINITY, sum = 0, dot_pd = 0;
        for (std::size_t n = 0; n < keys.size(); ++n) {
          double dot = 0;
          for (index_t e = 0; e < s.head_dim; ++e) dot += p.q(qi, h, e) * p.k(keys[n], g, e);
          prob[n] = scale * dot;
          mx = std::max(mx, prob[n]);
        }
        for (double& x : prob) sum += (x = std::exp(x - mx));
        for (std::size_t n = 0; n < keys.size(); ++n) {
          prob[n] /= sum;
          double dot = 0;
          for (index_t e = 0; e < s.head_dim; ++e) {
            r.out(qi, h, e) += prob[n] * p.v(keys[n], g, e);
            r.dv(keys[n], g, e) += prob[n] * p.dout(qi, h, e);
            dot += p.dout(qi, h, e) * p.v(keys[n], g, e);
          }
          dprob[n] = dot;
          dot_pd += prob[n] * dot;
        }
        for (std::size_t n = 0; n < keys.size(); ++n) {
          const double ds = prob[n] * (dprob[n] - dot_pd);
          for (index_t e = 0; e < s.head_dim; ++e) {
            r.dq(qi, h, e) += scale * ds * p.k(keys[n], g, e);
            r.dk(keys[n], g, e) += scale * ds * p.q(qi, h, e);
          }
        }
      }
    }
  }
  return r;
}

// The naive attention with the given product grouping; outputs start as NaN,
// so anything not written shows.
template <lsk::Backend B, class T>
attention_result run_naive(const problem& p, double scale, att::naive_products products) {
  B be;
  const auto& s = p.s;
  att::naive_attention naive{products};
  const auto q = from_double<T>(p.q), k = from_double<T>(p.k), v = from_double<T>(p.v), dout = from_double<T>(p.dout);
  auto saved = lsk::testing::poisoned<T>(shape{naive.saved_size(s)});
  auto scratch = lsk::testing::poisoned<T>(shape{naive.scratch_size(s)});
  auto out = lsk::testing::poisoned<T>(q.extents()), dq = lsk::testing::poisoned<T>(q.extents());
  auto dk = lsk::testing::poisoned<T>(k.extents()), dv = lsk::testing::poisoned<T>(k.extents());
  naive.forward(be, s, p.mask(), q.view(), k.view(), v.view(), static_cast<T>(scale), saved.view(), out.view());
  naive.backward(be, s, p.mask(), q.view(), k.view(), v.view(), out.view(), saved.view(), dout.view(),
                 static_cast<T>(scale), scratch.view(), dq.view(), dk.view(), dv.view());
  return {to_double(out), {}, to_double(dq), to_double(dk), to_double(dv)};
}

// with_lse false: results of the naive attention, which keeps no log-sum-exp.
void require_close(const attention_result& a, const attention_result& e, double tol, bool with_lse = true) {
  using lsk::testing::scaled_max_error;
  CHECK(scaled_max_error(a.out, e.out) <= tol);
  if (with_lse) CHECK(scaled_max_error(a.lse, e.lse) <= tol);
  CHECK(scaled_max_error(a.dq, e.dq) <= tol);
  CHECK(scaled_max_error(a.dk, e.dk) <= tol);
  CHECK(scaled_max_error(a.dv, e.dv) <= tol);
}

}  // namespace

TEST_CASE("attention concept: archetype and broken types are classified at compile time", "[attention][concepts]") {
  CHECK(models_attention<arch::attention>());
  CHECK_FALSE(models_attention<arch::attention_without_backward>());
  CHECK_FALSE(models_attention<arch::attention_with_mutating_forward>());
  CHECK(att::tiled_attention{}.saved_size({2, 100, 100, 8, 2, 64}) == 2 * 100 * 8);
  CHECK(att::naive_attention{}.saved_size({2, 100, 100, 8, 2, 64}) == 2 * 8 * 100 * 100);
}

TEST_CASE("naive attention: both product groupings match a direct f64 computation", "[attention][naive]") {
  lsk::rng g(20261128);
  const index_t ratios[] = {1, 2, 4};
  for (int trial = 0; trial < 18; ++trial) {
    const index_t ratio = ratios[trial % 3];
    const index_t kv_heads = 1 + static_cast<index_t>(g.below(3));
    const index_t q_len = trial % 6 == 5 ? 1 : 1 + static_cast<index_t>(g.below(40));  // 1: a decoding step
    const index_t extra = trial % 2 == 1 ? static_cast<index_t>(g.below(20)) : 0;
    const att::attention_shape s{
        1 + static_cast<index_t>(g.below(4)),      q_len, q_len + extra, kv_heads * ratio, kv_heads,
        4 * (1 + static_cast<index_t>(g.below(8)))};
    const index_t documents = trial % 4 == 2 ? 1 + static_cast<index_t>(g.below(3)) : 0;
    INFO("trial " << trial << ": batch " << s.batch << " q_len " << s.q_len << " k_len " << s.k_len << " heads "
                  << s.heads << " kv_heads " << s.kv_heads << " head_dim " << s.head_dim << " documents " << documents);
    const auto p = random_problem(g, s, documents);
    const double scale = 1.0 / std::sqrt(double(s.head_dim));
    const auto expected = direct_attention(p, scale);
    for (const auto products : {att::naive_products::per_sequence, att::naive_products::per_head}) {
      INFO((products == att::naive_products::per_head ? "per head" : "per sequence"));
      require_close(run_naive<lsk::backends::reference, double>(p, scale, products), expected, 1e-12, false);
      require_close(run_naive<lsk::backends::cpu, double>(p, scale, products), expected, 1e-12, false);
      require_close(run_naive<lsk::backends::cpu, float>(p, scale, products), expected, 2e-5, false);
    }
  }
}

TEST_CASE("naive attention: the automatic grouping takes the one with fewer products", "[attention][naive]") {
  using att::naive_products;
  // Training: 16 sequences, 4 heads sharing 2 kv heads: 4 per-head calls instead of 32.
  CHECK(att::resolve(naive_products::automatic, {16, 128, 128, 4, 2, 32}) == naive_products::per_head);
  // Decoding one sequence: one call per kv head, the group batched.
  CHECK(att::resolve(naive_products::automatic, {1, 1, 90, 8, 2, 64}) == naive_products::per_sequence);
  CHECK(att::resolve(naive_products::automatic, {1, 10, 10, 4, 4, 16}) == naive_products::per_sequence);
  CHECK(att::resolve(naive_products::per_sequence, {16, 128, 128, 4, 2, 32}) == naive_products::per_sequence);
}

TEST_CASE("tiled attention matches the naive one over random shapes (f32)", "[attention][tiled]") {
  lsk::rng g(20261126);
  const index_t ratios[] = {1, 2, 4, 8};
  for (int trial = 0; trial < 24; ++trial) {
    const index_t ratio = ratios[trial % 4];
    const index_t kv_heads = 1 + static_cast<index_t>(g.below(2));
    const index_t head_dim = trial < 4 ? std::array<index_t, 4>{32, 64, 128, 256}[static_cast<std::size_t>(trial)]
                                       : 8 * (1 + static_cast<index_t>(g.below(12)));
    const index_t q_len = 1 + static_cast<index_t>(g.below(150));
    const index_t extra = trial % 3 == 2 ? static_cast<index_t>(g.below(40)) : 0;
    const att::attention_shape s{
        1 + static_cast<index_t>(g.below(2)), q_len, q_len + extra, kv_heads * ratio, kv_heads, head_dim};
    const index_t documents = trial % 2 == 1 ? 1 + static_cast<index_t>(g.below(5)) : 0;
    const att::tile_config tiles = trial % 4 == 3
                                       ? att::tile_config{}
                                       : att::tile_config{8 + 8 * static_cast<index_t>(g.below(4)),
                                                          4 + static_cast<index_t>(g.below(29)), trial % 2 == 0};
    INFO("trial " << trial << ": batch " << s.batch << " q_len " << s.q_len << " k_len " << s.k_len << " heads "
                  << s.heads << " kv_heads " << s.kv_heads << " head_dim " << s.head_dim << " documents " << documents
                  << " tiles " << tiles.query_rows << "x" << tiles.key_tile);
    const auto p = random_problem(g, s, documents);
    const double scale = 1.0 / std::sqrt(double(head_dim));
    const auto expected = naive_reference(p, scale);
    require_close(run_tiled<float>(p, scale, tiles), expected, 1e-5);
    if (trial < 6) require_close(run_tiled<double>(p, scale, tiles), expected, 1e-12);
  }
}

TEST_CASE("tiled attention: a document mask equals separate sequences", "[attention][tiled]") {
  // Two documents of 37 and 50 tokens in one sequence, against each document alone.
  lsk::rng g(7);
  const att::attention_shape s{1, 87, 87, 4, 2, 32};
  auto p = random_problem(g, s, 0);
  p.docs = tensor<std::int32_t>(shape{87});
  for (index_t j = 0; j < 87; ++j) p.docs(j) = j < 37 ? 5 : 9;
  const double scale = 0.17;
  const auto packed = run_tiled<double>(p, scale, {16, 8, true});
  for (auto [begin, len] : {std::pair<index_t, index_t>{0, 37}, {37, 50}}) {
    problem one{{1, len, len, 4, 2, 32},           tensor<double>(shape{len, 4, 32}), tensor<double>(shape{len, 2, 32}),
                tensor<double>(shape{len, 2, 32}), tensor<double>(shape{len, 4, 32}), {}};
    for (index_t t = 0; t < len; ++t) {
      for (index_t e = 0; e < 4 * 32; ++e) {
        one.q.values()[static_cast<std::size_t>(t * 128 + e)] =
            p.q.values()[static_cast<std::size_t>((begin + t) * 128 + e)];
        one.dout.values()[static_cast<std::size_t>(t * 128 + e)] =
            p.dout.values()[static_cast<std::size_t>((begin + t) * 128 + e)];
      }
      for (index_t e = 0; e < 2 * 32; ++e) {
        one.k.values()[static_cast<std::size_t>(t * 64 + e)] =
            p.k.values()[static_cast<std::size_t>((begin + t) * 64 + e)];
        one.v.values()[static_cast<std::size_t>(t * 64 + e)] =
            p.v.values()[static_cast<std::size_t>((begin + t) * 64 + e)];
      }
    }
    const auto alone = run_tiled<double>(one, scale, {16, 8, true});
    double err = 0;
    for (index_t t = 0; t < len; ++t) {
      for (index_t e = 0; e < 128; ++e) {
        err = std::max(err, std::abs(alone.out.values()[static_cast<std::size_t>(t * 128 + e)] -
                                     packed.out.values()[static_cast<std::size_t>((begin + t) * 128 + e)]));
        err = std::max(err, std::abs(alone.dq.values()[static_cast<std::size_t>(t * 128 + e)] -
                                     packed.dq.values()[static_cast<std::size_t>((begin + t) * 128 + e)]));
      }
      for (index_t e = 0; e < 64; ++e) {
        err = std::max(err, std::abs(alone.dk.values()[static_cast<std::size_t>(t * 64 + e)] -
                                     packed.dk.values()[static_cast<std::size_t>((begin + t) * 64 + e)]));
      }
    }
    CHECK(err < 1e-12);
  }
}

TEST_CASE("tiled and naive attention (f32): masked keys contribute exactly nothing", "[attention][tiled]") {
  // A vectorised exp turns a masked (-inf) score into a subnormal weight, not 0,
  // unless flushed; scaled by huge values in another document it would show.
  // Document 2's values (and so its out and D) are made ~1e34: the first
  // document's out, dq, dk and dv must stay bit-identical. The boundary (37)
  // is inside a tile, so tiles hold scores masked by both rules.
  lsk::rng g(11);
  const att::attention_shape s{1, 87, 87, 4, 2, 32};
  auto p = random_problem(g, s, 0);
  p.docs = tensor<std::int32_t>(shape{87});
  for (index_t j = 0; j < 87; ++j) p.docs(j) = j < 37 ? 0 : 1;
  auto loud = p;
  for (index_t j = 37; j < 87; ++j)
    for (index_t e = 0; e < 2 * 32; ++e) loud.v.values()[static_cast<std::size_t>(j * 64 + e)] *= 1e34;
  const auto first_document_same = [](const tensor<double>& a, const tensor<double>& b) {
    const std::size_t n = a.values().size() * 37 / 87;
    return std::equal(a.values().begin(), a.values().begin() + static_cast<std::ptrdiff_t>(n), b.values().begin());
  };
  const auto check = [&](const attention_result& quiet, const attention_result& noisy) {
    CHECK(first_document_same(quiet.out, noisy.out));
    CHECK(first_document_same(quiet.dq, noisy.dq));
    CHECK(first_document_same(quiet.dk, noisy.dk));
    CHECK(first_document_same(quiet.dv, noisy.dv));
  };
  SECTION("tiled") { check(run_tiled<float>(p, 0.17, {16, 8, true}), run_tiled<float>(loud, 0.17, {16, 8, true})); }
  SECTION("naive, cpu backend") { check(run_naive_cpu<float>(p, 0.17), run_naive_cpu<float>(loud, 0.17)); }
}

TEST_CASE("tiled attention: results are bit-identical from run to run and for any thread count", "[attention][tiled]") {
  // Many tiles, several documents: the backward's work items add into the same
  // dq rows, so an unordered sum would differ in the last bits between runs.
  lsk::rng g(31);
  const att::attention_shape s{2, 500, 500, 4, 2, 32};
  const auto p = random_problem(g, s, 3);
  const att::tile_config tiles{16, 16, true};
  const auto same = [](const tensor<double>& a, const tensor<double>& b) { return a.values() == b.values(); };
#if defined(_OPENMP)
  const int threads_before = omp_get_max_threads();
  omp_set_num_threads(1);
#endif
  const auto one_thread = run_tiled<float>(p, 0.2, tiles);
  for (int threads : {2, 3, 4}) {
#if defined(_OPENMP)
    omp_set_num_threads(threads);
#endif
    for (int run = 0; run < 4; ++run) {
      INFO(threads << " threads, run " << run);
      const auto r = run_tiled<float>(p, 0.2, tiles);
      CHECK(same(r.out, one_thread.out));
      CHECK(same(r.lse, one_thread.lse));
      CHECK(same(r.dq, one_thread.dq));
      CHECK(same(r.dk, one_thread.dk));
      CHECK(same(r.dv, one_thread.dv));
    }
  }
#if defined(_OPENMP)
  omp_set_num_threads(threads_before);
#endif
}

TEST_CASE("tiled attention rejects bad shapes with shape_error", "[attention][tiled]") {
  const att::attention_shape s{1, 4, 4, 4, 2, 8};
  tensor<float> q(shape{4, 4, 8}, 1.0f), k(shape{4, 2, 8}, 1.0f), out(shape{4, 4, 8}), lse(shape{16});
  tensor<float> bad_k(shape{4, 4, 8}, 1.0f), short_lse(shape{15});
  CHECK_THROWS_AS(att::tiled_forward<float>(s, {}, q.view(), bad_k.view(), k.view(), 1.0f, lse.view(), out.view()),
                  lsk::shape_error);
  CHECK_THROWS_AS(att::tiled_forward<float>(s, {}, q.view(), k.view(), k.view(), 1.0f, short_lse.view(), out.view()),
                  lsk::shape_error);
  CHECK_THROWS_AS(
      att::tiled_forward<float>({1, 4, 4, 3, 2, 8}, {}, q.view(), k.view(), k.view(), 1.0f, lse.view(), out.view()),
      lsk::shape_error);
}

namespace {
// A copy of t at `offset` elements past a 64-byte boundary, in `storage`.
template <class T>
lsk::tensor_view<T> placed(const tensor<T>& t, std::vector<T>& storage, index_t offset) {
  storage.assign(t.values().size() + 64, T(0));
  auto address = reinterpret_cast<std::uintptr_t>(storage.data());
  const auto skip = static_cast<index_t>((64 - address % 64) % 64 / sizeof(T)) + offset;
  std::copy(t.values().begin(), t.values().end(), storage.begin() + skip);
  return lsk::tensor_view<T>(storage.data() + skip, t.extents());
}
}  // namespace

TEST_CASE("tiled and naive attention: results do not depend on where the tensors lie", "[attention][tiled][naive]") {
  // Eigen starts vector lanes (and its vector exp) at a destination's first aligned
  // element: an attention that wrote through such paths would round by address.
  lsk::rng g(5);
  const att::attention_shape s{2, 300, 300, 4, 2, 32};
  const auto p = random_problem(g, s, 2);
  const auto q = from_double<float>(p.q), k = from_double<float>(p.k), v = from_double<float>(p.v);
  const auto dout = from_double<float>(p.dout);
  const auto run = [&](const auto& attn, index_t offset) {
    lsk::backends::cpu be;
    std::vector<std::vector<float>> st(10);
    const auto qv = placed(q, st[0], offset), kv = placed(k, st[1], offset), vv = placed(v, st[2], offset);
    const auto dv_in = placed(dout, st[3], offset);
    const tensor<float> zq(q.extents()), zk(k.extents()), zs(shape{attn.saved_size(s)}),
        zw(shape{attn.scratch_size(s)});
    auto out = placed(zq, st[4], offset), dq = placed(zq, st[5], offset), dk = placed(zk, st[6], offset);
    auto dvv = placed(zk, st[7], offset), saved = placed(zs, st[8], offset), scratch = placed(zw, st[9], offset);
    attn.forward(be, s, p.mask(), qv, kv, vv, 0.2f, saved, out);
    attn.backward(be, s, p.mask(), qv, kv, vv, out, saved, dv_in, 0.2f, scratch, dq, dk, dvv);
    std::vector<std::vector<float>> r;
    for (const auto& view : {out, dq, dk, dvv}) r.emplace_back(view.data(), view.data() + view.numel());
    return r;
  };
  SECTION("tiled") {
    const auto aligned = run(att::tiled_attention{}, 0);
    for (index_t offset : {1, 2, 3, 5, 9, 15}) CHECK(run(att::tiled_attention{}, offset) == aligned);
  }
  SECTION("naive") {
    const auto aligned = run(att::naive_attention{}, 0);
    for (index_t offset : {1, 2, 3, 5, 9, 15}) CHECK(run(att::naive_attention{}, offset) == aligned);
  }
}

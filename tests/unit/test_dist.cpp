// Communicators and parallelism: the Communicator concept both ways, the
// in-process thread communicator, ring attention (zigzag context parallelism)
// against the single-rank tiled attention for P = 2, 3, 4, 8, and data-parallel
// gradient all-reduce against one rank on the whole batch, and the bucketed,
// overlapped gradient reducer against the per-tensor all-reduce; the model under
// context parallelism (sharded sequences, ring attention) against one rank.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "lsk/attention/ring.hpp"
#include "lsk/attention/tiled.hpp"
#include "lsk/backends/cpu/backend.hpp"
#include "lsk/dist/any_communicator.hpp"
#include "lsk/dist/communicator.hpp"
#include "lsk/dist/data_parallel.hpp"
#include "lsk/dist/gradient_reducer.hpp"
#include "lsk/dist/thread_communicator.hpp"
#include "lsk/model/context_shard.hpp"
#include "lsk/model/llama.hpp"
#include "lsk/position/rope.hpp"
#include "lsk/testing/random.hpp"

namespace {
using lsk::index_t;
using lsk::shape;
using lsk::tensor;
namespace att = lsk::attention;
namespace dist = lsk::dist;
namespace arch = lsk::archetypes;

static_assert(lsk::Communicator<arch::communicator>);
static_assert(lsk::Communicator<dist::thread_communicator>);
static_assert(!lsk::Communicator<arch::communicator_without_double>);
static_assert(!lsk::Communicator<arch::communicator_without_send_recv>);
static_assert(!lsk::Communicator<arch::communicator_with_mutable_rank>);
static_assert(!lsk::Communicator<int>);

template <class C>
constexpr bool models_communicator() {
  return lsk::Communicator<C>;
}

double max_rel(std::span<const float> a, std::span<const float> e) {
  double err = 0, scale = 1e-30;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    err = std::max(err, std::abs(double(a[i]) - double(e[i])));
    scale = std::max(scale, std::abs(double(e[i])));
  }
  return err / scale;
}

}  // namespace

TEST_CASE("communicator concept: archetype and broken types both ways", "[dist][concepts]") {
  CHECK(models_communicator<arch::communicator>());
  CHECK_FALSE(models_communicator<arch::communicator_without_send_recv>());
}

TEST_CASE("thread communicator: all-reduce, ring shift, barrier, errors", "[dist]") {
  for (int P : {1, 2, 3, 5}) {
    dist::thread_world world(P);
    world.run([&](dist::thread_communicator& comm) {
      std::vector<float> f{float(comm.rank()), 1.0f};
      comm.all_reduce_sum(std::span<float>(f));
      CHECK(f[0] == float(P * (P - 1) / 2));
      CHECK(f[1] == float(P));
      std::vector<double> send{double(comm.rank())}, recv{-1.0};
      comm.send_recv(std::span<const double>(send), (comm.rank() + 1) % P, std::span<double>(recv),
                     (comm.rank() - 1 + P) % P);
      CHECK(recv[0] == double((comm.rank() - 1 + P) % P));
      comm.barrier();
    });
  }
  dist::thread_world world(2);
  CHECK_THROWS_AS(world.run([](dist::thread_communicator& comm) {
    std::vector<float> f(static_cast<std::size_t>(comm.rank() + 1));
    comm.all_reduce_sum(std::span<float>(f));
  }),
                  lsk::error);
}

TEST_CASE("zigzag sharding round-trips and balances the causal work", "[dist][ring]") {
  const att::ring_shape s{24, 1, 1, 1, 3};
  std::vector<int> global(24), back(24, -1);
  for (int i = 0; i < 24; ++i) global[static_cast<std::size_t>(i)] = i;
  for (int r = 0; r < 3; ++r) {
    std::vector<int> local(8);
    att::zigzag_shard<int>(s, r, global, local);
    CHECK(local[0] == 4 * r);
    CHECK(local[4] == 4 * (5 - r));
    att::zigzag_unshard<int>(s, r, local, back);
  }
  CHECK(back == global);
  CHECK_THROWS_AS((att::ring_shape{25, 1, 1, 8, 3}.check()), lsk::shape_error);
}

TEST_CASE("ring attention matches the single-rank tiled attention for P = 2, 3, 4, 8 (f32)", "[dist][ring]") {
  lsk::rng g(31);
  struct config {
    int ranks;
    index_t chunk, heads, kv_heads, head_dim;
    bool documents;
  };
  const config configs[] = {{2, 13, 4, 2, 32, false}, {2, 21, 8, 1, 64, true},  {3, 9, 4, 4, 32, true},
                            {3, 16, 2, 1, 48, false}, {4, 11, 8, 2, 32, false}, {4, 7, 4, 1, 32, true},
                            {8, 5, 4, 2, 32, false},  {8, 6, 8, 8, 32, true}};
  for (const auto& cfg : configs) {
    const att::ring_shape s{2 * cfg.ranks * cfg.chunk, cfg.heads, cfg.kv_heads, cfg.head_dim, cfg.ranks};
    INFO("P " << cfg.ranks << " seq_len " << s.seq_len << " heads " << s.heads << "/" << s.kv_heads << " head_dim "
              << s.head_dim << " documents " << cfg.documents);
    const index_t N = s.seq_len;
    auto q = lsk::testing::random_tensor<float>(g, shape{N, s.heads, s.head_dim});
    auto k = lsk::testing::random_tensor<float>(g, shape{N, s.kv_heads, s.head_dim});
    auto v = lsk::testing::random_tensor<float>(g, shape{N, s.kv_heads, s.head_dim});
    auto dout = lsk::testing::random_tensor<float>(g, shape{N, s.heads, s.head_dim});
    tensor<std::int32_t> docs(shape{N}, 0);
    if (cfg.documents) {
      std::int32_t d = 0;
      for (index_t t = 1; t < N; ++t) {
        if (g.below(9) == 0) ++d;
        docs(t) = d;
      }
    }
    const att::attention_mask mask = cfg.documents ? att::document_mask(docs.view()) : att::causal_mask();
    const float scale = 1.0f / std::sqrt(float(s.head_dim));
    // Single rank.
    const att::attention_shape one{1, N, N, s.heads, s.kv_heads, s.head_dim};
    tensor<float> out(q.extents()), lse(shape{N * s.heads}), delta(shape{N * s.heads}), dq(q.extents()),
        dk(k.extents()), dv(k.extents());
    att::tiled_forward<float>(one, mask, q.view(), k.view(), v.view(), scale, lse.view(), out.view());
    att::tiled_backward<float>(one, mask, q.view(), k.view(), v.view(), out.view(), lse.view(), dout.view(), scale,
                               delta.view(), dq.view(), dk.view(), dv.view());
    // P ranks, gathered back into global order.
    std::vector<float> g_out(out.values().size(), NAN), g_lse(lse.values().size(), NAN), g_dq(dq.values().size(), NAN),
        g_dk(dk.values().size(), NAN), g_dv(dv.values().size(), NAN);
    dist::thread_world world(cfg.ranks);
    world.run([&](dist::thread_communicator& comm) {
      const int r = comm.rank();
      const auto qn = static_cast<std::size_t>(s.local_len() * s.heads * s.head_dim);
      const auto kn = static_cast<std::size_t>(s.local_len() * s.kv_heads * s.head_dim);
      std::vector<float> lq(qn), lk(kn), lv(kn), ldo(qn), lo(qn), ll(static_cast<std::size_t>(s.local_len() * s.heads)),
          ldq(qn), ldk(kn), ldv(kn);
      att::zigzag_shard<float>(s, r, q.values(), lq);
      att::zigzag_shard<float>(s, r, k.values(), lk);
      att::zigzag_shard<float>(s, r, v.values(), lv);
      att::zigzag_shard<float>(s, r, dout.values(), ldo);
      att::ring_forward<dist::thread_communicator, float>(comm, s, mask, lq, lk, lv, scale, lo, ll);
      att::ring_backward<dist::thread_communicator, float>(comm, s, mask, lq, lk, lv, lo, ll, ldo, scale, ldq, ldk,
                                                           ldv);
      att::zigzag_unshard<float>(s, r, lo, g_out);
      att::zigzag_unshard<float>(s, r, ll, g_lse);
      att::zigzag_unshard<float>(s, r, ldq, g_dq);
      att::zigzag_unshard<float>(s, r, ldk, g_dk);
      att::zigzag_unshard<float>(s, r, ldv, g_dv);
    });
    CHECK(max_rel(g_out, out.values()) <= 1e-5);
    CHECK(max_rel(g_lse, lse.values()) <= 1e-5);
    CHECK(max_rel(g_dq, dq.values()) <= 1e-5);
    CHECK(max_rel(g_dk, dk.values()) <= 1e-5);
    CHECK(max_rel(g_dv, dv.values()) <= 1e-5);
  }
}

namespace {
// Two sequences of `len` uniformly random tokens and targets below `vocab`.
lsk::model::token_batch two_random_sequences(index_t len, std::uint32_t vocab, std::uint64_t seed) {
  lsk::rng g(seed);
  lsk::model::token_batch b(2, len);
  for (index_t i = 0; i < b.size(); ++i) {
    b.tokens(i) = static_cast<std::int32_t>(g.below(vocab));
    b.targets(i) = static_cast<std::int32_t>(g.below(vocab));
  }
  return b;
}

// A tiny Llama (hidden 16, 4 heads on 2 kv heads, tiled attention, 32 positions)
// ready for training, its weights drawn from `seed`.
lsk::model::llama<float> small_model(index_t vocab, index_t layers, bool tied, std::uint64_t seed) {
  lsk::model::llama_config c;
  c.vocab_size = vocab;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 32;
  c.tie_word_embeddings = tied;
  c.attention = att::attention_kind::tiled;
  lsk::rng g(seed);
  lsk::model::llama_weights<float> w(c);
  w.init(g, 0.3);
  lsk::model::llama<float> m(c, std::move(w));
  lsk::position::rope_config rc;
  rc.head_dim = c.head_size();
  m.set_position_encoding(lsk::position::default_rope(rc), 32);
  m.enable_training();
  return m;
}
}  // namespace

TEST_CASE("data-parallel gradients over 2 ranks equal one rank on the whole batch", "[dist][data_parallel]") {
  auto make = [] { return small_model(17, 2, false, 3); };
  lsk::rng g(4);
  lsk::model::token_batch whole(4, 10);
  for (index_t i = 0; i < whole.size(); ++i) {
    whole.tokens(i) = static_cast<std::int32_t>(g.below(17));
    whole.targets(i) = static_cast<std::int32_t>(g.below(17));
  }
  whole.loss_mask(3) = 0;
  auto single = make();
  lsk::backends::cpu be;
  single.forward(be, whole);
  single.backward(be);
  std::vector<std::vector<float>> reduced(2);
  dist::thread_world world(2);
  world.run([&](dist::thread_communicator& comm) {
    auto m = make();
    lsk::model::token_batch half(2, 10);
    for (index_t i = 0; i < half.size(); ++i) {
      const index_t j = comm.rank() * half.size() + i;
      half.tokens(i) = whole.tokens(j);
      half.targets(i) = whole.targets(j);
      half.loss_mask(i) = whole.loss_mask(j);
    }
    lsk::backends::cpu local;
    const double global = dist::all_reduce_count(comm, double(half.valid_tokens()));
    m.forward(local, half, global);
    m.backward(local);
    dist::all_reduce_gradients(comm, m.grads);
    m.grads.for_each([&](const std::string&, const tensor<float>& t) {
      auto& dst = reduced[static_cast<std::size_t>(comm.rank())];
      dst.insert(dst.end(), t.values().begin(), t.values().end());
    });
  });
  std::vector<float> expected;
  single.grads.for_each([&](const std::string&, const tensor<float>& t) {
    expected.insert(expected.end(), t.values().begin(), t.values().end());
  });
  CHECK(reduced[0] == reduced[1]);  // every rank takes the same step
  CHECK(max_rel(reduced[0], expected) <= 1e-5);
}

namespace {
lsk::model::token_batch rank_batch(int rank) {
  lsk::rng g(100 + static_cast<std::uint64_t>(rank));
  lsk::model::token_batch b(2, 12);
  for (index_t i = 0; i < b.size(); ++i) {
    b.tokens(i) = static_cast<std::int32_t>(g.below(23));
    b.targets(i) = static_cast<std::int32_t>(g.below(23));
  }
  return b;
}

std::vector<float> flat_grads(const lsk::model::llama<float>& m) {
  std::vector<float> out;
  m.grads.for_each(
      [&](const std::string&, const tensor<float>& t) { out.insert(out.end(), t.values().begin(), t.values().end()); });
  return out;
}
}  // namespace

TEST_CASE("bucketed, overlapped gradient all-reduce equals the per-tensor all-reduce bit for bit",
          "[dist][data_parallel]") {
  const bool tied = GENERATE(true, false);
  const bool overlap = GENERATE(true, false);
  const std::size_t bucket = GENERATE(std::size_t{1}, std::size_t{700}, std::size_t{1} << 30);
  const auto op = GENERATE(dist::gradient_reduction::sum, dist::gradient_reduction::mean);
  INFO("tied " << tied << " overlap " << overlap << " bucket_elements " << bucket << " mean "
               << (op == dist::gradient_reduction::mean));
  std::vector<std::vector<float>> bucketed(3), per_tensor(3);
  std::vector<std::size_t> launched_before_embedding(3), buckets(3);
  dist::thread_world world(3);
  world.run([&](dist::thread_communicator& comm) {
    const auto r = static_cast<std::size_t>(comm.rank());
    lsk::backends::cpu be;
    const auto batch = rank_batch(comm.rank());
    auto plain = small_model(23, 3, tied, 11);
    plain.forward(be, batch);
    plain.backward(be);
    dist::all_reduce_gradients(comm, plain.grads, op);
    per_tensor[r] = flat_grads(plain);

    auto m = small_model(23, 3, tied, 11);
    dist::gradient_reducer<dist::thread_communicator, float> reducer(
        comm, m.grads, {.bucket_elements = bucket, .overlap = overlap, .op = op});
    buckets[r] = reducer.bucket_count();
    for (int step = 0; step < 2; ++step) {  // the reducer starts over after finish()
      m.zero_grad();
      m.forward(be, batch);
      m.backward(be, 1.0, [&](const lsk::model::gradient_ready& g) {
        if (g.what == lsk::model::gradient_ready::part::embedding) launched_before_embedding[r] = reducer.launched();
        reducer.ready(g);
      });
      reducer.finish();
    }
    bucketed[r] = flat_grads(m);
  });
  for (std::size_t r = 0; r < 3; ++r) {
    CHECK(bucketed[r] == per_tensor[r]);
    CHECK(bucketed[r] == bucketed[0]);
  }
  // Small buckets go out while backward still runs; one huge bucket only at the end.
  if (bucket == 1) {
    CHECK(buckets[0] == (tied ? 1u : 2u) + 3 * 9 + 1);
    CHECK(launched_before_embedding[0] == buckets[0] - 1);
  }
  if (bucket == (std::size_t{1} << 30)) {
    CHECK(buckets[0] == 1);
    CHECK(launched_before_embedding[0] == 0);
  }
}

TEST_CASE("gradient reducer: misuse is an error that says what", "[dist][data_parallel]") {
  dist::thread_world world(1);
  world.run([&](dist::thread_communicator& comm) {
    auto m = small_model(23, 3, true, 11);
    dist::gradient_reducer<dist::thread_communicator, float> reducer(comm, m.grads, {.bucket_elements = 100});
    CHECK_THROWS_WITH(reducer.finish(), Catch::Contains("finish() after 0 of 5"));
    CHECK_THROWS_WITH(reducer.ready({lsk::model::gradient_ready::part::embedding, 0}), Catch::Contains("out of order"));
    CHECK_THROWS_WITH((dist::gradient_reducer<dist::thread_communicator, float>(comm, m.grads, {.bucket_elements = 0})),
                      Catch::Contains("bucket_elements"));
  });
}

TEST_CASE("context-parallel model over P = 1, 2, 3 ranks equals one rank on whole sequences",
          "[dist][context_parallel]") {
  const index_t len = 24;
  lsk::model::token_batch whole = two_random_sequences(len, 19, 9);
  whole.loss_mask(5) = 0;
  whole.loss_mask(30) = 0;
  const bool documents = GENERATE(false, true);
  if (documents) {  // positions restart per document, and no attention across documents
    const std::vector<index_t> first{7, 10, 7}, second{13, 11};
    whole.set_documents(0, first);
    whole.set_documents(1, second);
  }
  auto make = [] { return small_model(19, 2, false, 21); };
  lsk::backends::cpu be;
  auto single = make();
  const double loss = single.forward(be, whole).loss;
  single.backward(be);
  const std::vector<float> logits(single.logits().values().begin(), single.logits().values().end());
  const std::vector<float> expected = flat_grads(single);

  const int ranks = GENERATE(1, 2, 3);
  CAPTURE(documents, ranks);
  std::vector<std::vector<float>> reduced(static_cast<std::size_t>(ranks));
  std::vector<double> losses(static_cast<std::size_t>(ranks));
  std::vector<float> gathered(logits.size(), 0.0f);
  dist::thread_world world(ranks);
  world.run([&](dist::thread_communicator& comm) {
    dist::any_communicator any(comm);
    auto m = make();
    m.set_context_parallel(&any);
    const auto shard = lsk::model::context_shard(whole, comm.rank(), ranks);
    const double global = dist::all_reduce_count(any, double(shard.valid_tokens()));
    lsk::backends::cpu local;
    const auto r = m.forward(local, shard, global);
    losses[static_cast<std::size_t>(comm.rank())] = r.loss;
    m.backward(local);
    dist::all_reduce_gradients(any, m.grads);
    reduced[static_cast<std::size_t>(comm.rank())] = flat_grads(m);
    // This rank's logits back in their places in the whole batch.
    const index_t vocab = 19, shard_len = len / ranks;
    const att::ring_shape rs{len, 1, 1, vocab, ranks};
    for (index_t b = 0; b < whole.batch; ++b) {
      att::zigzag_unshard<float>(
          rs, comm.rank(),
          std::span<const float>(m.logits().data() + b * shard_len * vocab,
                                 static_cast<std::size_t>(shard_len * vocab)),
          std::span<float>(gathered.data() + b * len * vocab, static_cast<std::size_t>(len * vocab)));
    }
  });
  double loss_sum = 0;
  for (double l : losses) loss_sum += l;
  CHECK(loss_sum == Approx(loss).epsilon(1e-6));
  CHECK(max_rel(gathered, logits) <= 1e-5);
  for (int r = 1; r < ranks; ++r) CHECK(reduced[static_cast<std::size_t>(r)] == reduced[0]);
  CHECK(max_rel(reduced[0], expected) <= 1e-5);
}

TEST_CASE("context-parallel ranks recomputing their activations train the same bits as ranks keeping them",
          "[dist][context_parallel][recompute]") {
  lsk::model::token_batch whole = two_random_sequences(24, 19, 19);
  const std::vector<index_t> first{7, 10, 7}, second{13, 11};
  whole.set_documents(0, first);
  whole.set_documents(1, second);
  const int ranks = 3;
  std::vector<std::vector<float>> kept(ranks), recomputed(ranks);
  std::vector<std::vector<double>> kept_losses(ranks), recomputed_losses(ranks);
  dist::thread_world world(ranks);
  world.run([&](dist::thread_communicator& comm) {
    dist::any_communicator any(comm);
    const auto rank = static_cast<std::size_t>(comm.rank());
    const auto shard = lsk::model::context_shard(whole, comm.rank(), ranks);
    const double global = dist::all_reduce_count(any, double(shard.valid_tokens()));
    lsk::backends::cpu local;
    for (bool recompute : {false, true}) {
      auto m = small_model(19, 3, false, 21);
      m.config.recompute_activations = recompute;
      m.set_context_parallel(&any);
      auto& losses = recompute ? recomputed_losses[rank] : kept_losses[rank];
      for (int pass = 0; pass < 2; ++pass) {  // two micro-batches: gradients accumulate
        losses.push_back(m.forward(local, shard, global).loss);
        m.backward(local);
      }
      (recompute ? recomputed : kept)[rank] = flat_grads(m);
    }
  });
  for (std::size_t r = 0; r < ranks; ++r) {
    CAPTURE(r);
    CHECK(recomputed_losses[r] == kept_losses[r]);
    CHECK(recomputed[r] == kept[r]);
  }
}

TEST_CASE("context parallelism: shapes that do not split are errors that say so", "[dist][context_parallel]") {
  lsk::model::token_batch b(1, 10);
  CHECK_THROWS_WITH(lsk::model::context_shard(b, 0, 2),
                    Catch::Contains("10 tokens do not split over 2 context-parallel ranks") &&
                        Catch::Contains("multiple of 2 * ranks = 4"));
  CHECK_THROWS_WITH(lsk::model::context_shard(b, 2, 2), Catch::Contains("rank 2 of 2 ranks"));
  dist::thread_world world(1);
  world.run([&](dist::thread_communicator& comm) {
    dist::any_communicator any(comm);
    auto m = small_model(19, 1, true, 5);
    m.set_context_parallel(&any);
    lsk::backends::cpu be;
    auto cache = m.make_cache(8);
    const std::vector<std::int32_t> prompt{1, 2};
    CHECK_THROWS_WITH(m.decode(be, prompt, cache), Catch::Contains("not with context parallelism"));
  });
}

TEST_CASE("ring schedule: every rank visits each visible chunk pair once, with equal work", "[dist][ring]") {
  for (const int P : {1, 2, 3, 4, 8}) {
    CAPTURE(P);
    const att::ring_shape s{16 * P, 1, 1, 8, P};
    const index_t c = s.chunk();
    std::vector<index_t> work(static_cast<std::size_t>(P), 0);
    for (int r = 0; r < P; ++r) {
      std::vector<std::pair<index_t, index_t>> seen;
      for (int step = 0; step < P; ++step) {
        att::for_each_ring_pair(s, r, step, [&](const att::ring_pair& p) {
          CHECK(p.q_begin == s.chunk_begin(r, p.qa));
          CHECK(p.k_begin == s.chunk_begin(att::ring_owner(s, r, step), p.ka));
          CHECK(p.diagonal == (p.q_begin == p.k_begin));
          CHECK(p.k_begin <= p.q_begin);  // below or on the diagonal: some key is visible
          seen.emplace_back(p.q_begin / c, p.k_begin / c);
          // Causal work of the pair in query-key products.
          work[static_cast<std::size_t>(r)] += p.diagonal ? c * (c + 1) / 2 : c * c;
        });
      }
      // Exactly the chunk pairs (i, j <= i) of this rank's query chunks i, each once.
      std::vector<std::pair<index_t, index_t>> expected;
      for (int w = 0; w < 2; ++w) {
        const index_t i = s.chunk_begin(r, w) / c;
        for (index_t j = 0; j <= i; ++j) expected.emplace_back(i, j);
      }
      std::sort(seen.begin(), seen.end());
      std::sort(expected.begin(), expected.end());
      CHECK(seen == expected);
      // The ring passes blocks forward: the owner at step + 1 is the previous rank's owner at step.
      for (int step = 0; step + 1 < P; ++step)
        CHECK(att::ring_owner(s, r, step + 1) == att::ring_owner(s, att::ring_prev(s, r), step));
    }
    CHECK(std::all_of(work.begin(), work.end(), [&](index_t w) { return w == work[0]; }));
  }
}

TEST_CASE("thread grid: world and context communicators, and one rank's failure ends every rank", "[dist]") {
  dist::thread_grid grid(2, 3);
  std::vector<int> context_rank(6, -1), context_sum(6, 0);
  grid.run([&](dist::thread_communicator& world, dist::thread_communicator& context) {
    CHECK(world.size() == 6);
    CHECK(context.size() == 3);
    context_rank[static_cast<std::size_t>(world.rank())] = context.rank();
    double x = world.rank();
    context.all_reduce_sum(std::span<double>(&x, 1));  // within the data group only
    context_sum[static_cast<std::size_t>(world.rank())] = static_cast<int>(x);
  });
  CHECK(context_rank == std::vector<int>{0, 1, 2, 0, 1, 2});
  CHECK(context_sum == std::vector<int>{3, 3, 3, 12, 12, 12});
  // Rank 4 fails while the others wait in a context barrier or a world all-reduce.
  CHECK_THROWS_WITH(grid.run([&](dist::thread_communicator& world, dist::thread_communicator& context) {
    if (world.rank() == 4) lsk::raise<lsk::error>("rank 4 gives up");
    if (world.rank() % 2 == 0) {
      context.barrier();
    } else {
      double x = 1;
      world.all_reduce_sum(std::span<double>(&x, 1));
    }
  }),
                    Catch::Contains("rank 4 gives up"));
  // The grid is usable again afterwards.
  int calls = 0;
  std::mutex m;
  grid.run([&](dist::thread_communicator&, dist::thread_communicator& context) {
    context.barrier();
    std::lock_guard<std::mutex> lock(m);
    ++calls;
  });
  CHECK(calls == 6);
}

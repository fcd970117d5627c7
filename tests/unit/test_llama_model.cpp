// The Llama model's hand-written backward against finite differences (f64,
// reference and cpu backends), the cpu backend against the reference (f32),
// gradient accumulation over micro-batches, and overfitting a fixed batch.
#include <cmath>
#include <string>

#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/backends/reference/backend.hpp"
#include "lsk/model/llama.hpp"
#include "lsk/optim/adamw.hpp"

namespace {
using lsk::index_t;
using lsk::model::llama;
using lsk::model::llama_config;
using lsk::model::llama_weights;
using lsk::model::token_batch;

llama_config tiny_config(bool tied, index_t kv_heads) {
  llama_config c;
  c.vocab_size = 13;
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = kv_heads;
  c.rms_norm_eps = 1e-5;
  c.max_position_embeddings = 16;
  c.tie_word_embeddings = tied;
  return c;
}

// Plain RoPE tables (theta 10000) so the model test does not depend on a position encoding.
template <class T>
lsk::model::rotary_tables<T> plain_tables(index_t rows, index_t head_dim) {
  lsk::model::rotary_tables<T> t{lsk::tensor<T>(lsk::shape{rows, head_dim / 2}),
                                 lsk::tensor<T>(lsk::shape{rows, head_dim / 2})};
  for (index_t p = 0; p < rows; ++p) {
    for (index_t i = 0; i < head_dim / 2; ++i) {
      const double angle = double(p) * std::pow(10000.0, -2.0 * double(i) / double(head_dim));
      t.cos(p, i) = static_cast<T>(std::cos(angle));
      t.sin(p, i) = static_cast<T>(std::sin(angle));
    }
  }
  return t;
}

token_batch random_batch(lsk::rng& g, index_t batch, index_t len, index_t vocab) {
  token_batch b(batch, len);
  for (index_t i = 0; i < b.size(); ++i) {
    b.tokens(i) = static_cast<std::int32_t>(g.below(static_cast<std::uint32_t>(vocab)));
    b.targets(i) = static_cast<std::int32_t>(g.below(static_cast<std::uint32_t>(vocab)));
  }
  b.loss_mask(1) = 0;  // one masked token
  b.targets(1) = -1;
  return b;
}

template <class T>
llama<T> make_model(const llama_config& c, std::uint64_t seed) {
  lsk::rng g(seed);
  llama_weights<T> w(c);
  w.init(g, 0.3);  // large enough that every path matters
  llama<T> m(c, std::move(w));
  m.rotary = plain_tables<T>(c.max_position_embeddings, c.head_size());
  return m;
}

// Documents of lengths 2 and 3 in every sequence of 5 tokens, positions reset.
void pack_two_documents(token_batch& b) {
  const index_t lengths[] = {2, 3};
  for (index_t s = 0; s < b.batch; ++s) b.set_documents(s, lengths);
}

template <class B>
void finite_difference_check(const llama_config& c, bool documents = false) {
  B be;
  auto m = make_model<double>(c, 5);
  lsk::rng g(6);
  token_batch batch = random_batch(g, 2, 5, c.vocab_size);
  if (documents) pack_two_documents(batch);
  m.enable_training();
  m.zero_grad();
  m.forward(be, batch);
  m.backward(be);
  int checked = 0;
  m.weights.for_each([&](const std::string& name, lsk::tensor<double>& w) {
    const lsk::tensor<double>* grad = nullptr;
    m.grads.for_each([&](const std::string& gname, const lsk::tensor<double>& t) {
      if (gname == name) grad = &t;
    });
    REQUIRE(grad != nullptr);
    double scale = 1e-12;
    for (double v : grad->values()) scale = std::max(scale, std::abs(v));
    for (int s = 0; s < 6; ++s) {
      const auto j = static_cast<std::size_t>(g.below(static_cast<std::uint32_t>(w.numel())));
      const double saved = w.values()[j], h = 1e-5;
      w.values()[j] = saved + h;
      const double up = m.forward(be, batch).loss;
      w.values()[j] = saved - h;
      const double down = m.forward(be, batch).loss;
      w.values()[j] = saved;
      const double numeric = (up - down) / (2 * h);
      INFO(B::name << " " << to_string(c.attention) << ": " << name << "[" << j << "] backward " << grad->values()[j]
                   << " vs " << numeric);
      REQUIRE(std::abs(numeric - grad->values()[j]) <= 1e-6 * scale + 1e-9);
      ++checked;
    }
  });
  CHECK(checked >= 6 * 9 * 2);
}
}  // namespace

TEST_CASE("llama backward matches finite differences (f64)", "[model][gradient]") {
  for (bool tied : {false, true}) {
    for (index_t kv : {1, 2}) {
      INFO("tied " << tied << ", kv heads " << kv);
      finite_difference_check<lsk::backends::reference>(tiny_config(tied, kv));
      finite_difference_check<lsk::backends::cpu>(tiny_config(tied, kv));
    }
  }
}

TEST_CASE("llama backward with the tiled attention matches finite differences (f64)", "[model][gradient][attention]") {
  for (bool documents : {false, true}) {
    for (index_t kv : {1, 2}) {
      INFO("documents " << documents << ", kv heads " << kv);
      auto c = tiny_config(false, kv);
      c.attention = lsk::attention::attention_kind::tiled;
      finite_difference_check<lsk::backends::cpu>(c, documents);
      c.attention = lsk::attention::attention_kind::naive;
      finite_difference_check<lsk::backends::reference>(c, documents);
    }
  }
}

TEST_CASE("llama with the tiled attention matches the naive attention (f32, cpu and reference)", "[model][attention]") {
  for (bool documents : {false, true}) {
    INFO("documents " << documents);
    auto c = tiny_config(false, 1);
    c.max_position_embeddings = 64;
    auto naive = make_model<float>(c, 8);
    c.attention = lsk::attention::attention_kind::tiled;
    auto tiled = make_model<float>(c, 8);
    lsk::rng g(9);
    token_batch batch = random_batch(g, 2, 40, c.vocab_size);
    if (documents) {
      const index_t lengths[] = {7, 20, 13};
      for (index_t s = 0; s < batch.batch; ++s) batch.set_documents(s, lengths);
    }
    lsk::backends::reference ref;
    lsk::backends::cpu cpu;
    naive.enable_training();
    tiled.enable_training();
    const double loss_naive = naive.forward(ref, batch).loss;
    const double loss_tiled = tiled.forward(cpu, batch).loss;
    CHECK(loss_tiled == Approx(loss_naive).epsilon(1e-5));
    naive.backward(ref);
    tiled.backward(cpu);
    std::vector<const lsk::tensor<float>*> a, b;
    naive.grads.for_each([&](const std::string&, const lsk::tensor<float>& t) { a.push_back(&t); });
    tiled.grads.for_each([&](const std::string&, const lsk::tensor<float>& t) { b.push_back(&t); });
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      double err = 0, scale = 1e-30;
      for (std::size_t j = 0; j < a[i]->values().size(); ++j) {
        err = std::max(err, double(std::abs(a[i]->values()[j] - b[i]->values()[j])));
        scale = std::max(scale, double(std::abs(a[i]->values()[j])));
      }
      CHECK(err / scale < 1e-4);
    }
  }
}

TEST_CASE("KV-cache decoding with the tiled attention matches the naive attention", "[model][attention]") {
  auto c = tiny_config(false, 1);
  auto naive = make_model<float>(c, 13);
  c.attention = lsk::attention::attention_kind::tiled;
  auto tiled = make_model<float>(c, 13);
  lsk::backends::cpu be;
  const std::vector<std::int32_t> tokens{3, 1, 4, 1, 5, 9, 2, 6};
  auto cache_naive = naive.make_cache(8), cache_tiled = tiled.make_cache(8);
  auto compare = [](const lsk::tensor<float>& a, const lsk::tensor<float>& b) {
    double err = 0, scale = 1e-30;
    for (std::size_t j = 0; j < a.values().size(); ++j) {
      err = std::max(err, double(std::abs(a.values()[j] - b.values()[j])));
      scale = std::max(scale, double(std::abs(a.values()[j])));
    }
    return err / scale;
  };
  // A prefill of 5 tokens, then one token at a time (q_len 1 against a growing cache).
  CHECK(compare(naive.decode(be, std::span<const std::int32_t>(tokens.data(), 5), cache_naive),
                tiled.decode(be, std::span<const std::int32_t>(tokens.data(), 5), cache_tiled)) < 1e-5);
  for (std::size_t t = 5; t < tokens.size(); ++t) {
    CHECK(compare(naive.decode(be, std::span<const std::int32_t>(&tokens[t], 1), cache_naive),
                  tiled.decode(be, std::span<const std::int32_t>(&tokens[t], 1), cache_tiled)) < 1e-5);
  }
}

TEST_CASE("a document mask makes packed documents independent of each other", "[model][attention]") {
  // The loss of a packed sequence equals the losses of its documents run alone.
  auto c = tiny_config(true, 2);
  c.attention = lsk::attention::attention_kind::tiled;
  auto m = make_model<double>(c, 11);
  lsk::backends::cpu be;
  lsk::rng g(12);
  token_batch packed = random_batch(g, 1, 9, c.vocab_size);
  packed.loss_mask(1) = 1;
  packed.targets(1) = 3;
  const index_t lengths[] = {4, 5};
  packed.set_documents(0, lengths);
  const double sum_packed = m.forward(be, packed).sum;
  double sum_alone = 0;
  for (auto [begin, len] : {std::pair<index_t, index_t>{0, 4}, {4, 5}}) {
    token_batch one(1, len);
    for (index_t t = 0; t < len; ++t) {
      one.tokens(t) = packed.tokens(begin + t);
      one.targets(t) = packed.targets(begin + t);
    }
    sum_alone += m.forward(be, one).sum;
  }
  CHECK(sum_packed == Approx(sum_alone).epsilon(1e-12));
  token_batch bad = packed;
  bad.documents = lsk::tensor<std::int32_t>(lsk::shape{3}, 0);
  CHECK_THROWS_AS(m.forward(be, bad), lsk::shape_error);
}

TEST_CASE("llama on the cpu backend matches the reference backend (f32)", "[model]") {
  const auto c = tiny_config(false, 1);
  auto on_ref = make_model<float>(c, 8);
  auto on_cpu = make_model<float>(c, 8);
  lsk::rng g(9);
  const token_batch batch = random_batch(g, 3, 7, c.vocab_size);
  lsk::backends::reference ref;
  lsk::backends::cpu cpu;
  on_ref.enable_training();
  on_cpu.enable_training();
  const double loss_ref = on_ref.forward(ref, batch).loss;
  const double loss_cpu = on_cpu.forward(cpu, batch).loss;
  CHECK(loss_cpu == Approx(loss_ref).epsilon(1e-5));
  on_ref.backward(ref);
  on_cpu.backward(cpu);
  std::vector<const lsk::tensor<float>*> a, b;
  on_ref.grads.for_each([&](const std::string&, const lsk::tensor<float>& t) { a.push_back(&t); });
  on_cpu.grads.for_each([&](const std::string&, const lsk::tensor<float>& t) { b.push_back(&t); });
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    double err = 0, scale = 1e-30;
    for (std::size_t j = 0; j < a[i]->values().size(); ++j) {
      err = std::max(err, double(std::abs(a[i]->values()[j] - b[i]->values()[j])));
      scale = std::max(scale, double(std::abs(a[i]->values()[j])));
    }
    CHECK(err / scale < 1e-4);
  }
}

TEST_CASE("gradient accumulation normalises by the global count of valid tokens", "[model]") {
  const auto c = tiny_config(true, 2);
  lsk::backends::reference be;
  lsk::rng g(10);
  token_batch whole = random_batch(g, 4, 6, c.vocab_size);
  whole.loss_mask(13) = 0;  // the second half has a different number of valid tokens
  whole.loss_mask(14) = 0;
  token_batch first(2, 6), second(2, 6);
  for (index_t i = 0; i < 12; ++i) {
    for (auto* part : {&first, &second}) {
      const index_t src = i + (part == &second ? 12 : 0);
      part->tokens(i) = whole.tokens(src);
      part->targets(i) = whole.targets(src);
      part->loss_mask(i) = whole.loss_mask(src);
    }
  }
  auto m1 = make_model<double>(c, 11);
  auto m2 = make_model<double>(c, 11);
  m1.enable_training();
  m2.enable_training();
  const double full_loss = m1.forward(be, whole).loss;
  m1.backward(be);
  const double total = static_cast<double>(whole.valid_tokens());
  double accumulated = m2.forward(be, first, total).loss;
  m2.backward(be);
  accumulated += m2.forward(be, second, total).loss;
  m2.backward(be);
  CHECK(accumulated == Approx(full_loss).epsilon(1e-12));
  std::vector<double> g1, g2;
  m1.grads.for_each([&](const std::string&, const lsk::tensor<double>& t) {
    g1.insert(g1.end(), t.values().begin(), t.values().end());
  });
  m2.grads.for_each([&](const std::string&, const lsk::tensor<double>& t) {
    g2.insert(g2.end(), t.values().begin(), t.values().end());
  });
  REQUIRE(g1.size() == g2.size());
  for (std::size_t i = 0; i < g1.size(); ++i) REQUIRE(g2[i] == Approx(g1[i]).margin(1e-12).epsilon(1e-9));
}

TEST_CASE("a tiny llama overfits a fixed batch", "[model][training]") {
  auto c = tiny_config(false, 1);
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_attention_heads = 4;
  c.vocab_size = 20;
  lsk::rng g(12);
  llama_weights<float> w(c);
  w.init(g);
  llama<float> m(c, std::move(w));
  m.rotary = plain_tables<float>(c.max_position_embeddings, c.head_size());
  m.enable_training();
  const token_batch batch = random_batch(g, 2, 12, c.vocab_size);
  lsk::optim::adamw<float> opt({.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.0});
  m.weights.for_each([&](const std::string& name, lsk::tensor<float>& t) {
    m.grads.for_each([&](const std::string& gname, lsk::tensor<float>& gt) {
      if (gname == name) opt.add(t.view(), gt.view());
    });
  });
  lsk::backends::cpu be;
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    m.zero_grad();
    last = m.forward(be, batch).loss;
    if (step == 0) first = last;
    m.backward(be);
    opt.step(be);
  }
  INFO("loss " << first << " -> " << last);
  CHECK(first > 2.0);
  CHECK(last < 0.05);
}

namespace {
// Every gradient (then weight) element of two models, in order.
template <class T>
std::vector<T> all_values(const llama_weights<T>& w) {
  std::vector<T> out;
  w.for_each([&](const std::string&, const lsk::tensor<T>& t) {
    out.insert(out.end(), t.values().begin(), t.values().end());
  });
  return out;
}

// Three AdamW steps of a model, each over two micro-batches; returns the losses.
template <class T, class B>
std::vector<double> train_three_steps(B& be, llama<T>& m, const std::vector<token_batch>& micro) {
  m.enable_training();
  lsk::optim::adamw<T> opt({.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1});
  m.weights.for_each([&](const std::string& name, lsk::tensor<T>& t) {
    m.grads.for_each([&](const std::string& gname, lsk::tensor<T>& gt) {
      if (gname == name) opt.add(t.view(), gt.view());
    });
  });
  double total = 0;
  for (const auto& b : micro) total += static_cast<double>(b.valid_tokens());
  std::vector<double> losses;
  for (int step = 0; step < 3; ++step) {
    m.zero_grad();
    for (const auto& b : micro) {
      losses.push_back(m.forward(be, b, total).loss);
      m.backward(be);
    }
    opt.step(be);
  }
  return losses;
}

template <class T, class B>
void check_recompute_is_exact(lsk::attention::attention_kind attention, index_t kv_heads, bool documents) {
  auto c = tiny_config(false, kv_heads);
  c.num_hidden_layers = 3;
  c.max_position_embeddings = 32;
  c.attention = attention;
  auto kept = make_model<T>(c, 21);
  c.recompute_activations = true;
  auto recomputed = make_model<T>(c, 21);
  lsk::rng g(22);
  std::vector<token_batch> micro{random_batch(g, 2, 9, c.vocab_size), random_batch(g, 3, 9, c.vocab_size)};
  if (documents) {
    const index_t lengths[] = {4, 5};
    for (auto& b : micro) {
      for (index_t s = 0; s < b.batch; ++s) b.set_documents(s, lengths);
    }
  }
  B be;
  INFO(B::name << ", " << to_string(attention) << " attention, " << kv_heads << " kv heads, documents " << documents);
  const auto losses_kept = train_three_steps(be, kept, micro);
  const index_t kept_elements = kept.activation_elements();
  const auto losses_recomputed = train_three_steps(be, recomputed, micro);
  CHECK(losses_recomputed == losses_kept);
  CHECK(all_values(recomputed.grads) == all_values(kept.grads));
  CHECK(all_values(recomputed.weights) == all_values(kept.weights));
  // One layer's activations instead of three: the difference is two layers' worth.
  const index_t saved = kept_elements - recomputed.activation_elements();
  CHECK(saved > 0);
  CHECK(saved % 2 == 0);
  CHECK(recomputed.activation_elements() > saved / 2);  // the input of each layer, one layer's set, the head
}
}  // namespace

TEST_CASE("recomputed activations train the same bits as kept ones, in less memory", "[model][recompute]") {
  using lsk::attention::attention_kind;
  for (attention_kind attention : {attention_kind::naive, attention_kind::tiled}) {
    for (bool documents : {false, true}) {
      check_recompute_is_exact<double, lsk::backends::reference>(attention, 1, documents);
      check_recompute_is_exact<float, lsk::backends::cpu>(attention, 2, documents);
      check_recompute_is_exact<float, lsk::backends::cpu>(attention, 1, documents);
    }
  }
}

TEST_CASE("recomputed activations: the setting may change between steps", "[model][recompute]") {
  auto c = tiny_config(true, 2);
  c.num_hidden_layers = 3;
  auto a = make_model<float>(c, 31);
  auto b = make_model<float>(c, 31);
  lsk::rng g(32);
  const token_batch batch = random_batch(g, 2, 7, c.vocab_size);
  lsk::backends::cpu be;
  a.enable_training();
  b.enable_training();
  for (bool recompute : {false, true, false}) {
    b.config.recompute_activations = recompute;
    a.zero_grad();
    b.zero_grad();
    CHECK(b.forward(be, batch).loss == a.forward(be, batch).loss);
    a.backward(be);
    b.backward(be);
    CHECK(all_values(b.grads) == all_values(a.grads));
  }
}

TEST_CASE("llama backward with the LM head in chunks matches finite differences (f64)", "[model][gradient][head]") {
  for (bool tied : {false, true}) {
    auto c = tiny_config(tied, 1);
    c.head_chunk_tokens = 3;  // 10 tokens: chunks of 3, 3, 3 and 1
    finite_difference_check<lsk::backends::reference>(c);
    finite_difference_check<lsk::backends::cpu>(c);
  }
}

namespace {
double largest_relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double err = 0, scale = 1e-300;
  for (std::size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(a[i]));
  }
  return err / scale;
}
template <class T>
std::vector<double> as_doubles(const std::vector<T>& v) {
  return {v.begin(), v.end()};
}

// The LM head in chunks of `chunk` tokens against the whole head: two steps of
// two accumulated micro-batches each; losses and gradients within `tolerance`.
template <class T, class B>
void check_head_chunks(bool tied, index_t chunk, double tolerance) {
  auto c = tiny_config(tied, 2);
  auto whole = make_model<T>(c, 41);
  c.head_chunk_tokens = chunk;
  auto chunked = make_model<T>(c, 41);
  lsk::rng g(42);
  std::vector<token_batch> micro{random_batch(g, 2, 7, c.vocab_size), random_batch(g, 3, 7, c.vocab_size)};
  B be;
  INFO(B::name << ", tied " << tied << ", chunk " << chunk);
  const auto losses_whole = train_three_steps(be, whole, micro);
  const auto losses_chunked = train_three_steps(be, chunked, micro);
  CHECK(largest_relative_difference(losses_whole, losses_chunked) <= tolerance);
  CHECK(largest_relative_difference(as_doubles(all_values(whole.grads)), as_doubles(all_values(chunked.grads))) <=
        tolerance);
  // Logits and their gradient for `chunk` tokens instead of 21, twice.
  const index_t n = 3 * 7;
  CHECK(whole.activation_elements() - chunked.activation_elements() == 2 * (n - chunk) * c.vocab_size);
}
}  // namespace

TEST_CASE("the LM head in chunks trains as the whole head, in less memory", "[model][head]") {
  for (bool tied : {false, true}) {
    for (index_t chunk : {1, 4, 20}) {
      check_head_chunks<double, lsk::backends::reference>(tied, chunk, 1e-12);
      check_head_chunks<float, lsk::backends::cpu>(tied, chunk, 2e-5);
    }
  }
}

TEST_CASE("the LM head in chunks keeps no logits, and says so", "[model][head]") {
  auto c = tiny_config(true, 2);
  c.head_chunk_tokens = 4;
  auto m = make_model<float>(c, 51);
  lsk::rng g(52);
  lsk::backends::cpu be;
  m.forward(be, random_batch(g, 2, 5, c.vocab_size));
  CHECK_THROWS_AS(m.logits(), lsk::config_error);
  CHECK_THROWS_WITH(m.logits(), Catch::Contains("head_chunk_tokens"));
  // A batch no larger than a chunk runs the whole head and keeps its logits.
  m.forward(be, random_batch(g, 1, 4, c.vocab_size));
  CHECK(m.logits().dim(0) == 4);
  // Decoding returns every position's logits whatever the chunk.
  auto cache = m.make_cache(8);
  const std::vector<std::int32_t> prompt{1, 2, 3, 4, 5, 6};
  CHECK(m.decode(be, prompt, cache).dim(0) == 6);
  c.head_chunk_tokens = -1;
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("head_chunk_tokens"));
}

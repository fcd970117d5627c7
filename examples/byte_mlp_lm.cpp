// byte_mlp_lm: trains a small byte-level language model on real text with the
// cpu backend, end to end through lsk's ops, and reports what it learned.
//
// Model (a Bengio-style neural n-gram model): the previous `context` bytes are
// embedded, concatenated, RMS-normalised, passed through a SwiGLU layer and
// projected to next-byte logits. Training: AdamW on the mean cross-entropy of
// random windows of the first 90% of the text; the last 10% is held out.
// Prints the loss curve, held-out loss and bits per byte against the unigram
// baseline, the gradient check of one step against the reference backend, and
// a greedy continuation of a prompt.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "lsk/optim/adamw.hpp"
#include "lsk/recipe.hpp"

namespace {

using lsk::index_t;
using lsk::shape;
using lsk::tensor;

struct model_shape {
  index_t vocab = 256, context = 16, embed = 24, hidden = 512;
  index_t input() const { return context * embed; }
};

struct parameters {
  tensor<float> embedding, norm, w_gate, w_up, w_out;
  explicit parameters(const model_shape& s)
      : embedding(shape{s.vocab, s.embed}),
        norm(shape{s.input()}, 1.0f),
        w_gate(shape{s.input(), s.hidden}),
        w_up(shape{s.input(), s.hidden}),
        w_out(shape{s.hidden, s.vocab}) {}
  std::vector<tensor<float>*> all() { return {&embedding, &norm, &w_gate, &w_up, &w_out}; }
};

void init_normal(tensor<float>& t, lsk::rng& g, double stddev) {
  for (auto& v : t.values()) v = static_cast<float>(g.normal() * stddev);
}

// Activations of one batch, kept for the backward pass.
struct activations {
  tensor<std::int32_t> ids, targets;
  tensor<std::uint8_t> mask;
  tensor<float> x, rstd, xn, gate, up, act, logits, lse;
  activations(const model_shape& s, index_t batch)
      : ids(shape{batch * s.context}),
        targets(shape{batch}),
        mask(shape{batch}, std::uint8_t{1}),
        x(shape{batch * s.context, s.embed}),
        rstd(shape{batch}),
        xn(shape{batch, s.input()}),
        gate(shape{batch, s.hidden}),
        up(shape{batch, s.hidden}),
        act(shape{batch, s.hidden}),
        logits(shape{batch, s.vocab}),
        lse(shape{batch}) {}
};

template <lsk::Backend B>
lsk::cross_entropy_result forward(B& be, const model_shape& s, parameters& p, activations& a) {
  const index_t batch = a.targets.numel();
  lsk::embedding_forward<B, float>(be, a.ids.view(), p.embedding, a.x.view());
  const auto x2 = a.x.view().reshape({batch, s.input()});
  lsk::rmsnorm_forward<B, float>(be, x2, p.norm, 1e-5f, a.xn.view(), a.rstd.view());
  lsk::matmul<B, float>(be, a.xn, p.w_gate, a.gate.view());
  lsk::matmul<B, float>(be, a.xn, p.w_up, a.up.view());
  lsk::swiglu_forward<B, float>(be, a.gate, a.up, a.act.view());
  lsk::matmul<B, float>(be, a.act, p.w_out, a.logits.view());
  return lsk::cross_entropy_forward<B, float>(be, a.logits, a.targets.view(), a.mask.view(), a.lse.view());
}

// Gradients of the mean loss; grads are overwritten.
template <lsk::Backend B>
void backward(B& be, const model_shape& s, parameters& p, activations& a, double normalizer, parameters& grads) {
  const index_t batch = a.targets.numel();
  tensor<float> dlogits(a.logits.extents()), dact(a.act.extents()), dgate(a.gate.extents()), dup(a.up.extents()),
      dxn(a.xn.extents()), dx(shape{batch, s.input()});
  lsk::cross_entropy_backward<B, float>(be, a.logits, a.targets.view(), a.mask.view(), a.lse, 1.0, normalizer,
                                        dlogits.view());
  lsk::matmul_backward<B, float>(be, a.act, p.w_out, dlogits, dact.view(), grads.w_out.view());
  lsk::swiglu_backward<B, float>(be, a.gate, a.up, dact, dgate.view(), dup.view());
  lsk::matmul_backward<B, float>(be, a.xn, p.w_gate, dgate, dxn.view(), grads.w_gate.view());
  lsk::matmul_backward<B, float>(be, a.xn, p.w_up, dup, dxn.view(), grads.w_up.view(), 1.0f);  // dxn += dup Wu^T
  grads.norm.fill(0.0f);
  lsk::rmsnorm_backward<B, float>(be, dxn, a.x.view().reshape({batch, s.input()}), p.norm, a.rstd, dx.view(),
                                  grads.norm.view());
  grads.embedding.fill(0.0f);
  lsk::embedding_backward<B, float>(be, a.ids.view(), dx.view().reshape({batch * s.context, s.embed}),
                                    grads.embedding.view());
}

// Window ending at byte `end` (exclusive): context bytes, then the target byte.
void fill_example(const std::string& text, index_t end, const model_shape& s, activations& a, index_t row) {
  for (index_t c = 0; c < s.context; ++c) {
    const index_t pos = end - s.context + c;
    a.ids(row * s.context + c) = pos >= 0 ? static_cast<unsigned char>(text[static_cast<std::size_t>(pos)]) : 0;
  }
  a.targets(row) = static_cast<unsigned char>(text[static_cast<std::size_t>(end)]);
}

double evaluate(lsk::backends::cpu& be, const std::string& text, index_t begin, index_t end, const model_shape& s,
                parameters& p) {
  const index_t count = end - begin;
  activations a(s, count);
  for (index_t i = 0; i < count; ++i) fill_example(text, begin + i, s, a, i);
  return forward(be, s, p, a).loss;
}

double unigram_entropy(const std::string& train, const std::string& heldout) {
  std::vector<double> counts(256, 1.0);  // add-one smoothing
  for (unsigned char c : train) counts[c] += 1.0;
  double total = 0;
  for (double c : counts) total += c;
  double nll = 0;
  for (unsigned char c : heldout) nll -= std::log(counts[c] / total);
  return nll / static_cast<double>(heldout.size());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a byte-level MLP language model on real text with lsk's cpu backend"};
  std::string data_path = LSK_EXAMPLES_DATA_DIR "/prideprejudice.txt";
  int steps = 1500, batch = 128, seed = 1;
  double lr = 3e-3;
  std::string prompt = "\"My dear Mr. Bennet,\" said ";
  app.add_option("--data", data_path, "UTF-8 text to train on")->check(CLI::ExistingFile);
  app.add_option("--steps", steps, "training steps")->check(CLI::PositiveNumber);
  app.add_option("--batch", batch, "windows per step")->check(CLI::PositiveNumber);
  app.add_option("--lr", lr, "AdamW learning rate");
  app.add_option("--seed", seed, "random seed");
  app.add_option("--prompt", prompt, "text to continue greedily");
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(data_path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  const model_shape s;
  const auto split = static_cast<index_t>(static_cast<double>(text.size()) * 0.9);
  if (split <= s.context + 1) {
    std::cerr << "byte_mlp_lm: " << data_path << " is too short (" << text.size() << " bytes)\n";
    return 1;
  }
  std::printf("data: %s, %zu bytes (%lld train, %lld held out)\n", data_path.c_str(), text.size(),
              static_cast<long long>(split), static_cast<long long>(static_cast<index_t>(text.size()) - split));

  lsk::rng g(static_cast<std::uint64_t>(seed));
  parameters p(s), grads(s);
  init_normal(p.embedding, g, 1.0);
  init_normal(p.w_gate, g, 1.0 / std::sqrt(double(s.input())));
  init_normal(p.w_up, g, 1.0 / std::sqrt(double(s.input())));
  init_normal(p.w_out, g, 1.0 / std::sqrt(double(s.hidden)));

  lsk::backends::cpu be;
  std::printf("backend: %s, %d threads, matmul engine %s\n", std::string(lsk::backends::cpu::name).c_str(),
              lsk::backends::cpu::threads(), be.options().gemm == lsk::backends::gemm_engine::blas ? "blas" : "eigen");

  // One batch through both backends: the cpu backend's gradients must agree
  // with the reference backend's before we trust a long run to it.
  {
    activations a(s, 8), b(s, 8);
    for (index_t r = 0; r < 8; ++r) {
      fill_example(text, s.context + r * 37, s, a, r);
      fill_example(text, s.context + r * 37, s, b, r);
    }
    lsk::backends::reference ref;
    parameters g_cpu(s), g_ref(s);
    backward(be, s, p, a, forward(be, s, p, a).normalizer, g_cpu);
    backward(ref, s, p, b, forward(ref, s, p, b).normalizer, g_ref);
    double worst = 0;
    for (std::size_t i = 0; i < g_cpu.all().size(); ++i) {
      const auto& x = g_cpu.all()[i]->values();
      const auto& y = g_ref.all()[i]->values();
      double err = 0, scale = 1e-30;
      for (std::size_t j = 0; j < x.size(); ++j) {
        err = std::max(err, double(std::abs(x[j] - y[j])));
        scale = std::max(scale, double(std::abs(y[j])));
      }
      worst = std::max(worst, err / scale);
    }
    std::printf("gradient check, cpu vs reference backend: max scaled error %.2e %s\n", worst,
                worst < 1e-4 ? "(ok)" : "(MISMATCH)");
    if (!(worst < 1e-4)) return 2;
  }

  const double baseline =
      unigram_entropy(text.substr(0, static_cast<std::size_t>(split)), text.substr(static_cast<std::size_t>(split)));
  const double initial = evaluate(be, text, split, static_cast<index_t>(text.size()), s, p);
  std::printf("held-out loss before training: %.3f nats/byte (unigram baseline %.3f)\n", initial, baseline);

  lsk::optim::adamw<float> opt({.lr = lr, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.01});
  for (std::size_t i = 0; i < p.all().size(); ++i) {
    opt.add(p.all()[i]->view(), grads.all()[i]->view(), /*decay=*/i != 0 && i != 1);
  }
  activations a(s, batch);
  const auto start = std::chrono::steady_clock::now();
  double smoothed = 0;
  for (int step = 1; step <= steps; ++step) {
    for (index_t r = 0; r < batch; ++r) {
      fill_example(text, 1 + static_cast<index_t>(g.below(static_cast<std::uint32_t>(split - 1))), s, a, r);
    }
    const auto loss = forward(be, s, p, a);
    if (!std::isfinite(loss.loss)) {
      std::fprintf(stderr, "byte_mlp_lm: loss became %f at step %d\n", loss.loss, step);
      return 3;
    }
    backward(be, s, p, a, loss.normalizer, grads);
    const double progress = double(step) / steps;  // cosine decay to 10%
    opt.step(be, lr * (0.1 + 0.9 * 0.5 * (1 + std::cos(3.141592653589793 * progress))));
    smoothed = step == 1 ? loss.loss : 0.95 * smoothed + 0.05 * loss.loss;
    if (step % 100 == 0 || step == 1) std::printf("step %4d  train loss %.3f\n", step, smoothed);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double final_loss = evaluate(be, text, split, static_cast<index_t>(text.size()), s, p);
  std::printf("trained %d steps x %d windows in %.1f s (%.0f windows/s)\n", steps, batch, seconds,
              steps * batch / seconds);
  std::printf("held-out loss after training: %.3f nats/byte = %.2f bits/byte (unigram baseline %.2f bits/byte)\n",
              final_loss, final_loss / std::log(2.0), baseline / std::log(2.0));

  std::string out = prompt;
  activations one(s, 1);
  for (int i = 0; i < 120; ++i) {
    const std::string with_next = out + ' ';
    fill_example(with_next, static_cast<index_t>(out.size()), s, one, 0);
    forward(be, s, p, one);
    index_t best = 0;
    for (index_t v = 1; v < s.vocab; ++v) best = one.logits(0, v) > one.logits(0, best) ? v : best;
    out.push_back(static_cast<char>(best));
  }
  std::printf("greedy continuation:\n%s\n", out.c_str());
  return final_loss < initial ? 0 : 4;
}

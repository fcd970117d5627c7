// bench/cpu/bench_llama_train.cpp: training throughput of the reference Llama
// configuration on the cpu backend, and its model FLOP utilisation against the
// matrix-product peak measured in the same process.
//
//   bench_llama_train [--seq 512] [--batch 8] [--warmup 2] [--steps 5]
//                     [--peak-n 2048] [--peak-reps 5] [--threads 0]
//                     [--attention naive|tiled] [--recompute 0|1] [--head-chunk 0]
//
// Model (random init, untied head): d_model 256, 4 layers, 4 heads of 64,
// 2 kv heads, ffn 704, vocab 4096, RoPE theta 10000; attention naive (the
// default: materialised probabilities, as PyTorch's "eager") or tiled
// (lsk/attention/tiled.hpp, as PyTorch's "sdpa" on the CPU).
// One step is lsk::train::trainer::step with one micro-batch: forward,
// backward, global-norm clipping (max norm 1), AdamW (lr 3e-4, betas 0.9/0.95,
// weight decay 0.1, none on norms and embeddings). Tokens are uniform random.
//
// Model FLOPs per token (PaLM, Chowdhery et al. 2022, appendix B):
//   6 N + 12 L H Q T
// N: matmul parameters (q, k, v, o, gate, up, down of every layer and the LM
// head; the embedding lookup and the norms are not matmuls), L layers, H heads,
// Q head dim, T sequence length. The attention term counts the full T x T
// score and value products (no halving for the causal mask), which is what a
// materialised attention computes; a tiled attention that skips masked tiles
// does less work than counted. Recomputation and element-wise ops are not
// counted, so MFU = achieved model FLOP/s / peak.
// Peak: the best of --peak-reps square sgemm products (n = --peak-n) through
// lsk::matmul on the same backend and threads, measured before and again after
// the training steps (the better of the two counts: on a shared machine one
// of them may be slowed down by other work).
// --recompute 1: llama_config::recompute_activations (each layer's activations
// recomputed in backward; not counted in the model FLOPs, so it lowers MFU).
// --head-chunk N: llama_config::head_chunk_tokens (the LM head in chunks of N
// tokens, each chunk's logits recomputed in backward; not counted either).
// Peak RSS: getrusage's ru_maxrss of this process (one configuration per run);
// activation MiB: what the model holds for a training step besides weights and
// gradients (llama::activation_elements).
//
// Output: human-readable lines, then one line
//   RESULT impl=lsk-<attention> seq=... tokens_per_s=... step_ms=... ...
// that bench/cpu/run_llama_train.sh parses.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/position/rope.hpp"
#include "lsk/train/trainer.hpp"

namespace {

using lsk::index_t;
using clock_type = std::chrono::steady_clock;

struct options {
  index_t seq = 512, batch = 8;
  int warmup = 2, steps = 5, peak_reps = 5, threads = 0;
  bool recompute = false;
  index_t head_chunk = 0;
  index_t peak_n = 2048;
  lsk::attention::attention_kind attention = lsk::attention::attention_kind::naive;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_llama_train: %s needs a value\n", argv[i]);
      std::exit(2);
    }
    if (a == "--attention") {
      o.attention = lsk::attention::parse_attention_kind(argv[++i]);
      continue;
    }
    const long v = std::strtol(argv[++i], nullptr, 10);
    if (a == "--seq") {
      o.seq = v;
    } else if (a == "--batch") {
      o.batch = v;
    } else if (a == "--warmup") {
      o.warmup = static_cast<int>(v);
    } else if (a == "--steps") {
      o.steps = static_cast<int>(v);
    } else if (a == "--peak-n") {
      o.peak_n = v;
    } else if (a == "--peak-reps") {
      o.peak_reps = static_cast<int>(v);
    } else if (a == "--threads") {
      o.threads = static_cast<int>(v);
    } else if (a == "--recompute") {
      o.recompute = v != 0;
    } else if (a == "--head-chunk") {
      o.head_chunk = v;
    } else {
      std::fprintf(stderr, "bench_llama_train: unknown option %s\n", argv[i - 1]);
      std::exit(2);
    }
  }
  if (o.seq <= 0 || o.batch <= 0 || o.steps <= 0 || o.warmup < 0 || o.peak_n <= 0 || o.peak_reps <= 0) {
    std::fprintf(stderr, "bench_llama_train: sizes and counts must be positive\n");
    std::exit(2);
  }
  return o;
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Best GFLOP/s of square f32 products c = a * b through lsk::matmul.
double matmul_peak_gflops(lsk::backends::cpu& be, index_t n, int reps) {
  lsk::tensor<float> a(lsk::shape{n, n}), b(lsk::shape{n, n}), c(lsk::shape{n, n});
  lsk::rng r(7);
  for (float& v : a.values()) v = r.uniform(-1.0f, 1.0f);
  for (float& v : b.values()) v = r.uniform(-1.0f, 1.0f);
  lsk::matmul<lsk::backends::cpu, float>(be, a, b, c.view());  // untimed: page faults, BLAS buffers
  double best = 0;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = clock_type::now();
    lsk::matmul<lsk::backends::cpu, float>(be, a, b, c.view());
    best = std::max(best, 2.0 * double(n) * double(n) * double(n) / seconds_since(t0) * 1e-9);
  }
  return best;
}

lsk::model::hf_config reference_config(index_t seq, lsk::attention::attention_kind attention) {
  lsk::model::hf_config c;
  auto& m = c.model;
  m.vocab_size = 4096;
  m.hidden_size = 256;
  m.intermediate_size = 704;
  m.num_hidden_layers = 4;
  m.num_attention_heads = 4;
  m.num_key_value_heads = 2;
  m.head_dim = 64;
  m.rms_norm_eps = 1e-5;
  m.max_position_embeddings = std::max<index_t>(seq, 2048);
  m.tie_word_embeddings = false;
  m.attention = attention;
  c.rope.theta = 10000.0;
  c.rope.head_dim = 64;
  c.rope.max_position_embeddings = m.max_position_embeddings;
  return c;
}

// 6 N + 12 L H Q T (see the header comment).
double model_flops_per_token(const lsk::model::llama_config& m, index_t seq) {
  const double d = double(m.hidden_size);
  const double per_layer =
      d * double(m.q_size() + 2 * m.kv_size()) + double(m.q_size()) * d + 3.0 * d * double(m.intermediate_size);
  const double n_matmul = double(m.num_hidden_layers) * per_layer + double(m.vocab_size) * d;
  return 6.0 * n_matmul +
         12.0 * double(m.num_hidden_layers) * double(m.num_attention_heads) * double(m.head_size()) * double(seq);
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // kilobytes on Linux
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  lsk::backends::cpu be(lsk::backends::cpu_options{.threads = o.threads});
  const int threads = lsk::backends::cpu::threads();

  const double peak_before = matmul_peak_gflops(be, o.peak_n, o.peak_reps);

  auto cfg = reference_config(o.seq, o.attention);
  cfg.model.recompute_activations = o.recompute;
  cfg.model.head_chunk_tokens = o.head_chunk;
  lsk::rng g(1234);
  lsk::model::llama_weights<float> w(cfg.model);
  w.init(g, 0.02);
  lsk::model::llama<float> model(cfg.model, std::move(w));
  model.set_position_encoding(lsk::position::rope(cfg.rope), o.seq);

  lsk::train::trainer_options to;
  to.max_grad_norm = 1.0;
  to.adamw = {.lr = 3e-4, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
  lsk::train::trainer trainer(model, cfg, to);

  // Uniform random tokens, a fresh batch per step (not timed).
  lsk::rng data(99);
  std::vector<lsk::model::token_batch> batches;
  for (int s = 0; s < o.warmup + o.steps; ++s) {
    lsk::model::token_batch b(o.batch, o.seq);
    std::vector<std::int32_t> stream(static_cast<std::size_t>(o.seq + 1));
    for (index_t i = 0; i < o.batch; ++i) {
      for (auto& t : stream) t = static_cast<std::int32_t>(data.next_u64() % std::uint64_t(cfg.model.vocab_size));
      b.set_sequence(i, stream);
    }
    batches.push_back(std::move(b));
  }
  auto batch_of = [&](std::int64_t step, index_t) -> lsk::model::token_batch {
    return batches[static_cast<std::size_t>(step)];
  };

  std::vector<double> times;
  double first_loss = 0, last_loss = 0;
  for (int s = 0; s < o.warmup + o.steps; ++s) {
    const auto t0 = clock_type::now();
    const auto r = trainer.step(be, batch_of);
    const double dt = seconds_since(t0);
    if (s == 0) first_loss = r.loss;
    last_loss = r.loss;
    if (s >= o.warmup) times.push_back(dt);
  }
  const double peak = std::max(peak_before, matmul_peak_gflops(be, o.peak_n, o.peak_reps));
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  double mean = 0;
  for (double t : times) mean += t;
  mean /= double(times.size());

  const double tokens = double(o.batch * o.seq);
  const double fpt = model_flops_per_token(cfg.model, o.seq);
  const double tps = tokens / median;
  const double gflops = tps * fpt * 1e-9;
  const double mfu = gflops / peak;
  const double rss = peak_rss_mib();
  const double activation_mib = double(model.activation_elements()) * sizeof(float) / (1024.0 * 1024.0);

  const std::string attention(lsk::attention::to_string(o.attention));
  std::printf("lsk cpu backend (%s matmul), %s attention%s, %d threads\n",
              be.options().gemm == lsk::backends::gemm_engine::blas ? "OpenBLAS" : "Eigen", attention.c_str(),
              o.recompute ? ", activations recomputed" : "", threads);
  if (o.head_chunk > 0) std::printf("LM head in chunks of %lld tokens\n", static_cast<long long>(o.head_chunk));
  std::printf("config: d_model 256, 4 layers, 4 heads x 64, 2 kv heads, ffn 704, vocab 4096, seq %lld, batch %lld\n",
              static_cast<long long>(o.seq), static_cast<long long>(o.batch));
  std::printf("parameters: %lld; model FLOPs per token (6N + 12LHQT): %.2f M\n",
              static_cast<long long>(cfg.model.parameter_count()), fpt * 1e-6);
  std::printf("matmul peak (sgemm n=%lld, best of %d): %.1f GFLOP/s\n", static_cast<long long>(o.peak_n), o.peak_reps,
              peak);
  std::printf("steps: %d warm-up + %d timed; step time median %.1f ms, mean %.1f ms, min %.1f ms\n", o.warmup, o.steps,
              median * 1e3, mean * 1e3, sorted.front() * 1e3);
  std::printf("loss: first %.4f, last %.4f\n", first_loss, last_loss);
  std::printf("throughput: %.0f tokens/s, %.1f GFLOP/s, MFU %.1f%% of the measured matmul peak\n", tps, gflops,
              mfu * 100.0);
  std::printf("peak RSS: %.0f MiB; activations and backward scratch: %.0f MiB\n", rss, activation_mib);
  std::printf(
      "RESULT impl=lsk-%s seq=%lld batch=%lld threads=%d step_ms=%.2f tokens_per_s=%.1f mflop_per_token=%.3f "
      "gflops=%.2f peak_gflops=%.2f mfu=%.4f rss_mib=%.0f recompute=%d head_chunk=%lld "
      "activation_mib=%.1f\n",
      attention.c_str(), static_cast<long long>(o.seq), static_cast<long long>(o.batch), threads, median * 1e3, tps,
      fpt * 1e-6, gflops, peak, mfu, rss, o.recompute ? 1 : 0, static_cast<long long>(o.head_chunk), activation_mib);
  return 0;
}

// bench/cuda/bench_train_step.cpp: training steps of a Llama model on the CUDA
// backend (lsk::train::trainer: forward, backward, gradient clipping, AdamW),
// with tokens/s, model TFLOP/s and MFU against the card's measured matmul rate.
//
//   bench_train_step [--hidden 768] [--layers 12] [--heads 12] [--kv-heads 12] [--intermediate 2048]
//                    [--vocab 32000] [--seq 2048] [--batch 4] [--steps 10] [--warmup 3] [--matmul bf16|tf32|f32]
//                    [--profile 1] [--recompute 1] [--head-chunk N]
//
// Defaults: a ~125M-parameter Llama (GPT-2 small shapes, untied head) at
// sequence 2048, bf16 tensor-core matmuls and flash attention on f32 weights.
// FLOPs per step (the usual count, as PyTorch comparisons use it): 6 x the
// matmul parameters (all linear layers and the LM head) x tokens, plus causal
// attention 6 x layers x seq x hidden x tokens (forward 2 seq d per token and
// layer, backward twice that). The peak is lsk::matmul's own rate in the same
// precision on an 8192^3 product (random operands), so MFU is against what the
// card gives this library's matmul path, packing included: for --matmul bf16
// an H100 gave about 665 TFLOP/s (torch.matmul on bf16 tensors: about 800);
// bench/cuda/torch_train_step.py also prints MFU against torch's bf16 rate.
// Time per step: median over --steps after --warmup steps, each ending with a
// device synchronisation (the loss is read).
// --profile 1: after the warm-up, one step between cudaProfilerStart and
// cudaProfilerStop, then exit (bench/cuda/kernel_breakdown.py runs it under
// Nsight Compute with --profile-from-start off: the kernels of one step).
// --recompute 1: llama_config::recompute_activations (one layer's activations
// kept, the others recomputed in backward; the FLOP count stays the model's,
// so the recomputation lowers MFU); --head-chunk N: llama_config::head_chunk_tokens
// (the LM head in chunks of N tokens, each chunk's logits recomputed in backward);
// the activation MiB line says what they save.
// bench/cuda/torch_train_step.py runs the same model in PyTorch eager.
#include <cuda_profiler_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lsk/backends/cuda/backend.hpp"
#include "lsk/core/backend_memory.hpp"
#include "lsk/position/rope.hpp"
#include "lsk/train/trainer.hpp"

namespace {
using lsk::index_t;

struct args {
  index_t hidden = 768, layers = 12, heads = 12, kv_heads = 12, intermediate = 2048, vocab = 32000, seq = 2048,
          batch = 4;
  int steps = 10, warmup = 3;
  bool profile = false, recompute = false;
  index_t head_chunk = 0;
  std::string matmul = "bf16";
};

args parse(int argc, char** argv) {
  args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--hidden")
      a.hidden = std::atoll(v);
    else if (k == "--layers")
      a.layers = std::atoll(v);
    else if (k == "--heads")
      a.heads = std::atoll(v);
    else if (k == "--kv-heads")
      a.kv_heads = std::atoll(v);
    else if (k == "--intermediate")
      a.intermediate = std::atoll(v);
    else if (k == "--vocab")
      a.vocab = std::atoll(v);
    else if (k == "--seq")
      a.seq = std::atoll(v);
    else if (k == "--batch")
      a.batch = std::atoll(v);
    else if (k == "--steps")
      a.steps = std::atoi(v);
    else if (k == "--warmup")
      a.warmup = std::atoi(v);
    else if (k == "--profile")
      a.profile = std::atoi(v) != 0;
    else if (k == "--recompute")
      a.recompute = std::atoi(v) != 0;
    else if (k == "--head-chunk")
      a.head_chunk = std::atoll(v);
    else if (k == "--matmul")
      a.matmul = v;
    else {
      std::fprintf(stderr, "bench_train_step: unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

lsk::cuda::matmul_precision precision(const std::string& s) {
  if (s == "f32") return lsk::cuda::matmul_precision::f32;
  if (s == "tf32") return lsk::cuda::matmul_precision::tf32;
  return lsk::cuda::matmul_precision::bf16;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// lsk::matmul's rate on an n^3 product in the backend's precision, TFLOP/s.
double matmul_tflops(lsk::cuda::backend& be, index_t n) {
  lsk::backend_memory<lsk::cuda::backend> memory(be);
  lsk::rng g(5);  // random operands: constants or zeros can run faster than real data
  lsk::tensor<float> host_a(lsk::shape{n, n}), host_b(lsk::shape{n, n}), c(lsk::shape{n, n}, &memory);
  for (auto* t : {&host_a, &host_b})
    for (auto& x : t->values()) x = g.uniform(-1.0f, 1.0f);
  const auto a = host_a.to(&memory), b = host_b.to(&memory);
  const auto run = [&] { lsk::matmul<lsk::cuda::backend, float>(be, a, b, c.view()); };
  for (int i = 0; i < 3; ++i) run();
  be.synchronize();
  const int reps = 10;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) run();
  be.synchronize();
  return 2.0 * double(n) * double(n) * double(n) * reps / seconds_since(t0) / 1e12;
}
int run(const args& a) {
  if (const auto why = lsk::cuda::backend::unavailable(); !why.empty()) {
    std::printf("bench_train_step: skipped: %s\n", why.c_str());
    return 0;
  }
  lsk::model::hf_config c;
  c.model.vocab_size = a.vocab;
  c.model.hidden_size = a.hidden;
  c.model.intermediate_size = a.intermediate;
  c.model.num_hidden_layers = a.layers;
  c.model.num_attention_heads = a.heads;
  c.model.num_key_value_heads = a.kv_heads;
  c.model.max_position_embeddings = a.seq;
  c.model.tie_word_embeddings = false;
  c.model.recompute_activations = a.recompute;
  c.model.head_chunk_tokens = a.head_chunk;
  c.rope.head_dim = c.model.head_size();
  c.rope.max_position_embeddings = a.seq;

  lsk::cuda::backend be(lsk::cuda::backend_options{.matmul = precision(a.matmul)});
  lsk::backend_memory<lsk::cuda::backend> memory(be);
  lsk::rng g(1);
  lsk::model::llama_weights<float> w(c.model);
  w.init(g);
  lsk::model::llama<float> m(c.model, std::move(w));
  m.set_position_encoding(lsk::position::rope(c.rope), a.seq);
  m.to(&memory);

  lsk::train::trainer_options o;
  o.max_grad_norm = 1.0;
  o.adamw = {.lr = 3e-4, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
  lsk::train::trainer t(m, c, o);
  const auto batches = [&](std::int64_t step, index_t) {
    lsk::model::token_batch b(a.batch, a.seq);
    lsk::rng data(static_cast<std::uint64_t>(step) + 7);
    std::vector<std::int32_t> stream(static_cast<std::size_t>(a.seq + 1));
    for (index_t s = 0; s < a.batch; ++s) {
      for (auto& x : stream) x = static_cast<std::int32_t>(data.below(static_cast<std::uint32_t>(a.vocab)));
      b.set_sequence(s, stream);
    }
    return b;
  };

  const index_t d = a.hidden, q = a.heads * c.model.head_size(), kv = a.kv_heads * c.model.head_size();
  const double matmul_params =
      double(a.layers) * double(d * (q + 2 * kv) + q * d + 3 * d * a.intermediate) + double(a.vocab * d);
  const double tokens = double(a.batch * a.seq);
  const double flops = tokens * (6.0 * matmul_params + 6.0 * double(a.layers) * double(a.seq) * double(d));

  if (a.profile) {
    for (int s = 0; s < a.warmup; ++s) t.step(be, batches);
    be.synchronize();
    cudaProfilerStart();
    t.step(be, batches);
    be.synchronize();
    cudaProfilerStop();
    return 0;
  }
  std::vector<double> times;
  double loss = 0;
  for (int s = 0; s < a.warmup + a.steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    loss = t.step(be, batches).loss;  // reading the loss waits for the device
    be.synchronize();
    if (s >= a.warmup) times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  const double step_s = times[times.size() / 2];
  const double peak = matmul_tflops(be, 8192);
  const double achieved = flops / step_s / 1e12;
  std::printf("lsk cuda train step: %lld params (%.1fM in matmuls), batch %lld x seq %lld, %s matmuls\n",
              static_cast<long long>(c.model.parameter_count()), matmul_params / 1e6, static_cast<long long>(a.batch),
              static_cast<long long>(a.seq), a.matmul.c_str());
  std::printf("%-10s %10s %12s %10s %14s %8s %8s\n", "impl", "ms/step", "tokens/s", "TFLOP/s", "peak TFLOP/s", "MFU",
              "loss");
  std::printf("%-10s %10.1f %12.0f %10.1f %14.1f %7.1f%% %8.4f\n", "lsk", step_s * 1e3, tokens / step_s, achieved, peak,
              100.0 * achieved / peak, loss);
  std::printf("activations and backward scratch: %.0f MiB%s\n",
              double(m.activation_elements()) * sizeof(float) / (1024.0 * 1024.0),
              a.recompute ? " (recomputed: one layer's kept)" : "");
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train_step: %s\n", e.what());
    return 1;
  }
}

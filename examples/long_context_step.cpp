// long_context_step: one full training step (forward, backward, AdamW) of a
// tiny Llama on one long sequence, with the tiled attention, reporting time
// and peak memory. The default is 131072 tokens, which the naive attention
// could not hold (its probabilities alone would take layers * heads * n^2 * 4
// bytes, printed for comparison).
//
//   long_context_step [--tokens 131072] [--layers 2] [--hidden 64] [--heads 2]
//                     [--kv-heads 1] [--vocab 512] [--ffn 172] [--documents 0]
//                     [--attention tiled|naive] [--recompute 0|1] [--head-chunk 0]
// --recompute 1 keeps one layer's activations and recomputes the others in
// backward (llama_config::recompute_activations); --head-chunk N runs the LM
// head in chunks of N tokens (llama_config::head_chunk_tokens). --documents N packs the sequence as N equal documents
// (document mask and position resets). Peak memory is the process's maximum resident set (getrusage), which includes
// the weights, gradients, AdamW moments and every activation kept for backward.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/model/llama.hpp"
#include "lsk/optim/adamw.hpp"
#include "lsk/position/rope.hpp"

namespace {
double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  lsk::index_t tokens = 131072, layers = 2, hidden = 64, heads = 2, kv_heads = 1, vocab = 512, ffn = 172, documents = 0,
               recompute = 0, head_chunk = 0;
  std::string attention = "tiled";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view key = argv[i];
    const char* value = argv[i + 1];
    if (key == "--attention") {
      attention = value;
      continue;
    }
    const lsk::index_t v = std::atoll(value);
    if (key == "--tokens")
      tokens = v;
    else if (key == "--layers")
      layers = v;
    else if (key == "--hidden")
      hidden = v;
    else if (key == "--heads")
      heads = v;
    else if (key == "--kv-heads")
      kv_heads = v;
    else if (key == "--vocab")
      vocab = v;
    else if (key == "--ffn")
      ffn = v;
    else if (key == "--documents")
      documents = v;
    else if (key == "--recompute")
      recompute = v;
    else if (key == "--head-chunk")
      head_chunk = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  try {
    lsk::model::llama_config c;
    c.vocab_size = vocab;
    c.hidden_size = hidden;
    c.intermediate_size = ffn;
    c.num_hidden_layers = layers;
    c.num_attention_heads = heads;
    c.num_key_value_heads = kv_heads;
    c.max_position_embeddings = tokens;
    c.tie_word_embeddings = true;
    c.attention = lsk::attention::parse_attention_kind(attention);
    c.recompute_activations = recompute != 0;
    c.head_chunk_tokens = head_chunk;
    c.validate();
    const double naive_gib = double(layers) * double(heads) * double(tokens) * double(tokens) * 4.0 / (1 << 30);
    std::printf(
        "model: %lld layers, hidden %lld, %lld heads / %lld kv heads (head_dim %lld), vocab %lld, ffn %lld, "
        "%lld parameters\n",
        static_cast<long long>(layers), static_cast<long long>(hidden), static_cast<long long>(heads),
        static_cast<long long>(kv_heads), static_cast<long long>(c.head_size()), static_cast<long long>(vocab),
        static_cast<long long>(ffn), static_cast<long long>(c.parameter_count()));
    std::printf("sequence: %lld tokens, %lld documents, attention %s (naive probabilities would need %.1f GiB)%s\n",
                static_cast<long long>(tokens), static_cast<long long>(documents), attention.c_str(), naive_gib,
                recompute != 0 ? ", activations recomputed" : "");
    std::fflush(stdout);

    lsk::rng g(1);
    lsk::model::llama_weights<float> w(c);
    w.init(g);
    lsk::model::llama<float> model(c, std::move(w));
    lsk::position::rope_config rc;
    rc.head_dim = c.head_size();
    model.set_position_encoding(lsk::position::default_rope(rc), tokens);
    model.enable_training();
    lsk::optim::adamw<float> opt({.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.0});
    model.weights.for_each([&](const std::string& name, lsk::tensor<float>& t) {
      model.grads.for_each([&](const std::string& gname, lsk::tensor<float>& gt) {
        if (gname == name) opt.add(t.view(), gt.view());
      });
    });

    lsk::model::token_batch batch(1, tokens);
    std::vector<std::int32_t> stream(static_cast<std::size_t>(tokens + 1));
    for (auto& t : stream) t = static_cast<std::int32_t>(g.below(static_cast<std::uint32_t>(vocab)));
    batch.set_sequence(0, stream);
    if (documents > 0) {
      std::vector<lsk::index_t> lengths(static_cast<std::size_t>(documents), tokens / documents);
      lengths.back() += tokens % documents;
      batch.set_documents(0, lengths);
    }
    const double rss_before = peak_rss_mib();

    lsk::backends::cpu be;
    auto t0 = std::chrono::steady_clock::now();
    model.zero_grad();
    const double loss = model.forward(be, batch).loss;
    const double t_fwd = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    model.backward(be);
    const double t_bwd = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    opt.step(be);
    const double t_opt = seconds_since(t0);
    std::printf("loss %.4f (ln vocab %.4f)\n", loss, std::log(double(vocab)));
    std::printf("time: forward %.1f s, backward %.1f s, optimizer %.3f s, threads %d\n", t_fwd, t_bwd, t_opt,
                lsk::backends::cpu::threads());
    std::printf(
        "peak memory (max RSS): %.1f MiB (%.1f MiB before the step); activations and backward scratch %.1f MiB\n",
        peak_rss_mib(), rss_before, double(model.activation_elements()) * sizeof(float) / (1024.0 * 1024.0));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

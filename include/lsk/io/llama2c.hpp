// lsk/io/llama2c.hpp: read llama2.c checkpoints (.bin, the legacy "version 0"
// export of Karpathy's llama2.c), with the weights under Hugging Face Llama names.
//
// Format (little-endian, no padding):
//   byte 0    7 x int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads,
//             vocab_size, seq_len. A negative vocab_size means the classifier is
//             NOT shared with the token embedding and is stored at the end.
//   byte 28   float32 arrays, each contiguous and row-major, in this order
//             (head_dim = dim / n_heads, kv_dim = n_kv_heads * head_dim):
//               token_embedding_table (vocab, dim)
//               rms_att_weight        (layers, dim)
//               wq                    (layers, dim, dim)       rows: output features
//               wk                    (layers, kv_dim, dim)
//               wv                    (layers, kv_dim, dim)
//               wo                    (layers, dim, dim)
//               rms_ffn_weight        (layers, dim)
//               w1                    (layers, hidden, dim)
//               w2                    (layers, dim, hidden)
//               w3                    (layers, hidden, dim)
//               rms_final_weight      (dim)
//               freq_cis_real         (seq_len, head_dim / 2)  RoPE cos table (unused by run.c)
//               freq_cis_imag         (seq_len, head_dim / 2)  RoPE sin table
//               wcls                  (vocab, dim)              only when vocab_size < 0
//   The file is exactly 28 + 4 * (sum of the element counts above) bytes.
// Every matrix is (out_features, in_features), as in Hugging Face and torch.nn.Linear:
// y = W x, element (o, i) at offset o * in_features + i. The later llama2.c
// exports (version 1 and 2, which start with the magic "ak42") are not read.
//
// Names: the weights come back under Hugging Face Llama names, per layer i:
//   token_embedding_table -> model.embed_tokens.weight
//   rms_att_weight[i]     -> model.layers.{i}.input_layernorm.weight
//   wq/wk/wv/wo[i]        -> model.layers.{i}.self_attn.{q,k,v,o}_proj.weight
//   rms_ffn_weight[i]     -> model.layers.{i}.post_attention_layernorm.weight
//   w1/w2/w3[i]           -> model.layers.{i}.mlp.{gate,down,up}_proj.weight
//   rms_final_weight      -> model.norm.weight
//   wcls                  -> lm_head.weight (absent when shared: tied embeddings)
// Not in the file and therefore fixed by llama2.c: rms_norm_eps = 1e-5,
// rope_theta = 10000, SiLU-gated MLP, no biases.
//
// RoPE layout: llama2.c rotates interleaved pairs (dims 2j, 2j+1 of each head);
// Hugging Face rotates halves (dims j, j + head_dim/2). read() returns q_proj and
// k_proj in the file's native interleaved layout (checkpoint::qk_layout says
// so). permute_qk_for_rotate_half reorders each head's rows so that a model
// applying rotate_half RoPE computes exactly what llama2.c computes: the
// projected q and k come out permuted the same way within every head, RoPE
// turns the same pairs by the same angles, and q . k (hence attention) is
// unchanged. v_proj and o_proj are not touched. convert_qk_to_rotate_half does
// this for every layer of a checkpoint.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsk/core/error.hpp"
#include "lsk/core/tensor.hpp"
#include "lsk/ops/rope_layout.hpp"

namespace lsk::io::llama2c {

// The header, with vocab_size made positive and its sign kept in shared_classifier.
struct config {
  std::int32_t dim = 0;
  std::int32_t hidden_dim = 0;
  std::int32_t n_layers = 0;
  std::int32_t n_heads = 0;
  std::int32_t n_kv_heads = 0;
  std::int32_t vocab_size = 0;
  std::int32_t seq_len = 0;
  bool shared_classifier = true;  // vocab_size > 0 in the file: lm_head is the embedding

  std::int32_t head_dim() const { return dim / n_heads; }
  std::int32_t kv_dim() const { return n_kv_heads * head_dim(); }
  // Number of float32 values after the header.
  std::uint64_t float_count() const {
    const std::uint64_t d = static_cast<std::uint64_t>(dim), h = static_cast<std::uint64_t>(hidden_dim),
                        l = static_cast<std::uint64_t>(n_layers), v = static_cast<std::uint64_t>(vocab_size),
                        kv = static_cast<std::uint64_t>(kv_dim()), s = static_cast<std::uint64_t>(seq_len),
                        hd = static_cast<std::uint64_t>(head_dim());
    std::uint64_t n = v * d + l * (d + d * d + 2 * kv * d + d * d + d + 3 * h * d) + d + 2 * s * (hd / 2);
    if (!shared_classifier) n += v * d;
    return n;
  }
  // The size a file with this header must have, in bytes.
  std::uint64_t file_size() const { return 28 + 4 * float_count(); }
};

// A whole checkpoint. weights holds every tensor under its Hugging Face name;
// names lists them in file order.
struct checkpoint {
  config header;
  rope_layout qk_layout = rope_layout::interleaved;  // of every q_proj / k_proj
  std::map<std::string, tensor<float>, std::less<>> weights;
  std::vector<std::string> names;
  tensor<float> freq_cis_real;  // (seq_len, head_dim / 2): cos(pos * theta_j)
  tensor<float> freq_cis_imag;  // (seq_len, head_dim / 2): sin(pos * theta_j)

  bool contains(std::string_view name) const { return weights.find(name) != weights.end(); }
  // The weight called `name`; index_error when there is none.
  const tensor<float>& weight(std::string_view name) const {
    auto it = weights.find(name);
    if (it == weights.end()) raise<index_error>("llama2c: checkpoint has no weight named '", name, "'");
    return it->second;
  }
};

namespace detail {

inline constexpr std::string_view field_names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                                    "n_kv_heads", "vocab_size", "seq_len"};

inline std::int32_t load_i32_le(const unsigned char* p) {
  const std::uint32_t u = static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
                          (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
  return static_cast<std::int32_t>(u);
}

// Checks the header fields against each other and against the file size (in bytes).
inline config parse_header(const std::int32_t (&f)[7], std::uint64_t file_size, std::string_view source) {
  if (static_cast<std::uint32_t>(f[0]) == 0x616b3432u) {
    raise<format_error>("llama2c: ", source,
                        ": starts with the magic \"ak42\" of a version 1 or later llama2.c export; "
                        "only the legacy version 0 format is read");
  }
  for (int i = 0; i < 7; ++i) {
    if (i == 5) continue;
    if (f[i] <= 0) {
      raise<format_error>("llama2c: ", source, ": ", field_names[i], " = ", f[i], " at byte offset ", 4 * i,
                          " must be positive");
    }
  }
  if (f[5] == 0 || f[5] == std::numeric_limits<std::int32_t>::min()) {
    raise<format_error>("llama2c: ", source, ": vocab_size = ", f[5],
                        " at byte offset 20 is not a valid vocabulary size");
  }
  config c;
  c.dim = f[0];
  c.hidden_dim = f[1];
  c.n_layers = f[2];
  c.n_heads = f[3];
  c.n_kv_heads = f[4];
  c.shared_classifier = f[5] > 0;
  c.vocab_size = f[5] > 0 ? f[5] : -f[5];
  c.seq_len = f[6];
  if (c.dim % c.n_heads != 0) {
    raise<format_error>("llama2c: ", source, ": dim = ", c.dim,
                        " (byte offset 0) is not a multiple of n_heads = ", c.n_heads, " (byte offset 12)");
  }
  if (c.n_heads % c.n_kv_heads != 0) {
    raise<format_error>("llama2c: ", source, ": n_kv_heads = ", c.n_kv_heads,
                        " (byte offset 16) does not divide n_heads = ", c.n_heads, " (byte offset 12)");
  }
  if (c.head_dim() % 2 != 0) {
    raise<format_error>("llama2c: ", source, ": head_dim = dim / n_heads = ", c.head_dim(),
                        " is odd; RoPE needs pairs of dims");
  }
  // Overflow guard: every term of float_count() is at most a product of three
  // fields; keeping each below 2^56 keeps 4 * float_count() within 64 bits.
  const auto fits = [](std::uint64_t a, std::uint64_t b, std::uint64_t cc) {
    std::uint64_t ab = 0, abc = 0;
    return !__builtin_mul_overflow(a, b, &ab) && !__builtin_mul_overflow(ab, cc, &abc) &&
           abc < (std::uint64_t{1} << 56);
  };
  const auto u = [](std::int32_t x) { return static_cast<std::uint64_t>(x); };
  if (!fits(u(c.n_layers), u(c.dim), u(c.dim)) || !fits(u(c.n_layers), u(c.hidden_dim), u(c.dim)) ||
      !fits(u(c.vocab_size), u(c.dim), 1) || !fits(u(c.seq_len), u(c.head_dim()), 1)) {
    raise<format_error>("llama2c: ", source, ": the header describes more weights than any file can hold (dim ", c.dim,
                        ", hidden_dim ", c.hidden_dim, ", n_layers ", c.n_layers, ", vocab_size ", c.vocab_size, ")");
  }
  const std::uint64_t expected = c.file_size();
  if (file_size != expected) {
    const bool shorter = file_size < expected;
    const std::uint64_t diff = shorter ? expected - file_size : file_size - expected;
    const std::uint64_t classifier = 4 * u(c.vocab_size) * u(c.dim);
    raise<format_error>("llama2c: ", source, ": file is ", file_size, " bytes but its header (dim ", c.dim,
                        ", hidden_dim ", c.hidden_dim, ", n_layers ", c.n_layers, ", n_heads ", c.n_heads,
                        ", n_kv_heads ", c.n_kv_heads, ", vocab_size ", f[5], ", seq_len ", c.seq_len, ") implies ",
                        expected, " bytes: ", diff, " bytes ", shorter ? "short (truncated)" : "too long",
                        diff == classifier
                            ? "; the difference is one vocab x dim classifier: is the sign of vocab_size "
                              "(shared or separate classifier) wrong?"
                            : "");
  }
  return c;
}

}  // namespace detail

// Reads and checks the header of `path` (including the file size it implies).
inline config read_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) raise<io_error>("llama2c: cannot open '", path.string(), "'");
  std::error_code ec;
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) raise<io_error>("llama2c: cannot stat '", path.string(), "': ", ec.message());
  if (size < 28) {
    raise<format_error>("llama2c: ", path.string(), ": file is ", size, " bytes, shorter than the 28-byte header");
  }
  unsigned char raw[28];
  if (!in.read(reinterpret_cast<char*>(raw), 28))
    raise<io_error>("llama2c: cannot read the header of '", path.string(), "'");
  std::int32_t fields[7];
  for (int i = 0; i < 7; ++i) fields[i] = detail::load_i32_le(raw + 4 * i);
  return detail::parse_header(fields, size, path.string());
}

// Reads the whole checkpoint at `path`. io_error when it cannot be read,
// format_error when its header is invalid or its size does not match.
inline checkpoint read(const std::filesystem::path& path) {
  checkpoint ck;
  ck.header = read_config(path);
  const config& c = ck.header;
  std::ifstream in(path, std::ios::binary);
  if (!in) raise<io_error>("llama2c: cannot open '", path.string(), "'");
  in.seekg(28);
  std::uint64_t offset = 28;

  const auto read_into = [&](tensor<float>& t, const std::string& what) {
    const std::size_t bytes = static_cast<std::size_t>(t.numel()) * sizeof(float);
    if (!in.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(bytes))) {
      raise<format_error>("llama2c: ", path.string(), ": truncated while reading ", what, " at byte offset ", offset);
    }
    if constexpr (std::endian::native == std::endian::big) {
      for (float& x : t.values()) x = std::bit_cast<float>(__builtin_bswap32(std::bit_cast<std::uint32_t>(x)));
    }
    offset += bytes;
  };
  const auto add = [&](std::string name, shape s) {
    tensor<float> t(s);
    read_into(t, name);
    ck.names.push_back(name);
    ck.weights.emplace(std::move(name), std::move(t));
  };
  const auto per_layer = [&](const std::string& suffix, shape s) {
    for (std::int32_t l = 0; l < c.n_layers; ++l) add("model.layers." + std::to_string(l) + "." + suffix, s);
  };

  const index_t dim = c.dim, hidden = c.hidden_dim, kv = c.kv_dim(), vocab = c.vocab_size;
  add("model.embed_tokens.weight", {vocab, dim});
  per_layer("input_layernorm.weight", {dim});
  per_layer("self_attn.q_proj.weight", {dim, dim});
  per_layer("self_attn.k_proj.weight", {kv, dim});
  per_layer("self_attn.v_proj.weight", {kv, dim});
  per_layer("self_attn.o_proj.weight", {dim, dim});
  per_layer("post_attention_layernorm.weight", {dim});
  per_layer("mlp.gate_proj.weight", {hidden, dim});  // w1
  per_layer("mlp.down_proj.weight", {dim, hidden});  // w2
  per_layer("mlp.up_proj.weight", {hidden, dim});    // w3
  add("model.norm.weight", {dim});
  ck.freq_cis_real = tensor<float>(shape{c.seq_len, c.head_dim() / 2});
  read_into(ck.freq_cis_real, "freq_cis_real");
  ck.freq_cis_imag = tensor<float>(shape{c.seq_len, c.head_dim() / 2});
  read_into(ck.freq_cis_imag, "freq_cis_imag");
  if (!c.shared_classifier) add("lm_head.weight", {vocab, dim});
  return ck;
}

namespace detail {
inline void check_qk(const tensor<float>& w, index_t n_heads, index_t head_dim, std::string_view fn) {
  if (w.rank() != 2 || n_heads <= 0 || head_dim <= 0 || head_dim % 2 != 0 || w.dim(0) != n_heads * head_dim) {
    raise<shape_error>("llama2c: ", fn, ": weight ", w.extents().str(), " is not (n_heads * head_dim, in) for n_heads ",
                       n_heads, " and an even head_dim ", head_dim);
  }
}
}  // namespace detail

// Reorders the rows of a q_proj or k_proj weight (n_heads * head_dim, in) from
// the interleaved RoPE layout to the rotate_half layout, head by head: in each
// head, new row j < head_dim/2 is old row 2j and new row head_dim/2 + j is old
// row 2j + 1. n_heads is that projection's own head count (n_kv_heads for k_proj).
inline tensor<float> permute_qk_for_rotate_half(const tensor<float>& w, index_t n_heads, index_t head_dim) {
  detail::check_qk(w, n_heads, head_dim, "permute_qk_for_rotate_half");
  const index_t cols = w.dim(1), half = head_dim / 2;
  tensor<float> out(w.extents());
  for (index_t h = 0; h < n_heads; ++h)
    for (index_t j = 0; j < half; ++j)
      for (index_t k = 0; k < 2; ++k) {
        const float* src = w.data() + (h * head_dim + 2 * j + k) * cols;
        float* dst = out.data() + (h * head_dim + k * half + j) * cols;
        std::memcpy(dst, src, static_cast<std::size_t>(cols) * sizeof(float));
      }
  return out;
}

// The inverse: rotate_half rows back to interleaved (new row 2j is old row j,
// new row 2j + 1 is old row head_dim/2 + j, in every head).
inline tensor<float> permute_qk_for_interleaved(const tensor<float>& w, index_t n_heads, index_t head_dim) {
  detail::check_qk(w, n_heads, head_dim, "permute_qk_for_interleaved");
  const index_t cols = w.dim(1), half = head_dim / 2;
  tensor<float> out(w.extents());
  for (index_t h = 0; h < n_heads; ++h)
    for (index_t j = 0; j < half; ++j)
      for (index_t k = 0; k < 2; ++k) {
        const float* src = w.data() + (h * head_dim + k * half + j) * cols;
        float* dst = out.data() + (h * head_dim + 2 * j + k) * cols;
        std::memcpy(dst, src, static_cast<std::size_t>(cols) * sizeof(float));
      }
  return out;
}

// Permutes every layer's q_proj (n_heads) and k_proj (n_kv_heads) to the
// rotate_half layout and records it in qk_layout; a no-op when already there.
inline void convert_qk_to_rotate_half(checkpoint& ck) {
  if (ck.qk_layout == rope_layout::rotate_half) return;
  const config& c = ck.header;
  for (std::int32_t l = 0; l < c.n_layers; ++l) {
    const std::string prefix = "model.layers." + std::to_string(l) + ".self_attn.";
    auto& q = ck.weights.at(prefix + "q_proj.weight");
    q = permute_qk_for_rotate_half(q, c.n_heads, c.head_dim());
    auto& k = ck.weights.at(prefix + "k_proj.weight");
    k = permute_qk_for_rotate_half(k, c.n_kv_heads, c.head_dim());
  }
  ck.qk_layout = rope_layout::rotate_half;
}

}  // namespace lsk::io::llama2c

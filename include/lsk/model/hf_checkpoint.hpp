// lsk/model/hf_checkpoint.hpp: Hugging Face Llama checkpoints: config.json and
// model.safetensors, read and written with HF's field and tensor names, so a
// model trained here loads in transformers and back.
//
// config.json: LlamaConfig fields (vocab_size, hidden_size, intermediate_size,
// num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim,
// rms_norm_eps, max_position_embeddings, tie_word_embeddings, bos/eos ids) and
// the RoPE settings in either convention (`rope_theta` + `rope_scaling`, or
// `rope_parameters`; lsk/position/rope_json.hpp). Missing required keys and
// wrong types are config_error naming the key and file. Unknown keys are kept
// when a config is re-written from a loaded one.
// Weights: one model.safetensors (sharded checkpoints are refused with a clear
// error), F32/BF16/F16 read as the model's element type; lm_head.weight is
// absent when the head is tied. HF's layout rotates halves of each head
// (rope_layout::rotate_half). Files are written atomically.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "lsk/io/atomic_write.hpp"
#include "lsk/io/safetensors.hpp"
#include "lsk/model/llama_weights.hpp"
#include "lsk/position/rope_json.hpp"

namespace lsk::model {

struct hf_config {
  llama_config model;
  position::rope_config rope;
  position::rope_convention convention = position::rope_convention::rope_parameters;
  nlohmann::json raw = nlohmann::json::object();  // the file's other keys, kept on save
};

namespace detail {
inline const nlohmann::json& required(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) raise<config_error>(where, ": missing key '", key, "'");
  return *it;
}
inline index_t integer_key(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto& v = required(j, key, where);
  if (!v.is_number_integer()) raise<config_error>(where, ": key '", key, "' must be an integer, got ", v.dump());
  return v.get<index_t>();
}
inline double number_key(const nlohmann::json& j, const char* key, const std::string& where, double fallback) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number()) raise<config_error>(where, ": key '", key, "' must be a number, got ", it->dump());
  return it->get<double>();
}
}  // namespace detail

// Parses a config.json object; `where` names it in errors.
inline hf_config parse_hf_config(const nlohmann::json& j, const std::string& where = "config.json") {
  if (!j.is_object()) raise<config_error>(where, ": expected a JSON object");
  if (const auto it = j.find("model_type"); it != j.end() && it->is_string() && *it != "llama") {
    raise<config_error>(where, ": model_type '", it->get<std::string>(), "' is not 'llama'");
  }
  hf_config c;
  c.raw = j;
  auto& m = c.model;
  m.vocab_size = detail::integer_key(j, "vocab_size", where);
  m.hidden_size = detail::integer_key(j, "hidden_size", where);
  m.intermediate_size = detail::integer_key(j, "intermediate_size", where);
  m.num_hidden_layers = detail::integer_key(j, "num_hidden_layers", where);
  m.num_attention_heads = detail::integer_key(j, "num_attention_heads", where);
  m.num_key_value_heads = j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null()
                              ? detail::integer_key(j, "num_key_value_heads", where)
                              : m.num_attention_heads;
  if (j.contains("head_dim") && !j["head_dim"].is_null()) m.head_dim = detail::integer_key(j, "head_dim", where);
  m.rms_norm_eps = detail::number_key(j, "rms_norm_eps", where, 1e-6);
  m.max_position_embeddings = detail::integer_key(j, "max_position_embeddings", where);
  if (const auto it = j.find("tie_word_embeddings"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) raise<config_error>(where, ": key 'tie_word_embeddings' must be true or false");
    m.tie_word_embeddings = it->get<bool>();
  }
  if (const auto it = j.find("bos_token_id"); it != j.end() && it->is_number_integer())
    m.bos_token_id = it->get<std::int32_t>();
  if (const auto it = j.find("eos_token_id"); it != j.end() && it->is_number_integer())
    m.eos_token_id = it->get<std::int32_t>();
  m.layout = rope_layout::rotate_half;
  for (const char* unsupported : {"attention_bias", "mlp_bias"}) {
    if (const auto it = j.find(unsupported); it != j.end() && it->is_boolean() && it->get<bool>()) {
      raise<config_error>(where, ": '", unsupported, "' = true is not supported (Llama has no biases)");
    }
  }
  if (const auto it = j.find("hidden_act"); it != j.end() && it->is_string() && *it != "silu") {
    raise<config_error>(where, ": hidden_act '", it->get<std::string>(), "' is not supported (only silu)");
  }
  try {
    m.validate();
    c.rope = position::rope_config_from_json(j);
  } catch (const config_error& e) {
    raise<config_error>(where, ": ", e.what());
  }
  c.convention = position::rope_convention_of(j);
  return c;
}

inline hf_config load_hf_config(const std::filesystem::path& path) {
  return parse_hf_config(position::load_json_file(path), path.string());
}

// The config.json object for c (keys of c.raw that lsk does not own are kept).
inline nlohmann::json to_json(const hf_config& c) {
  nlohmann::json j = c.raw.is_object() ? c.raw : nlohmann::json::object();
  const auto& m = c.model;
  j["architectures"] = {"LlamaForCausalLM"};
  j["model_type"] = "llama";
  j["vocab_size"] = m.vocab_size;
  j["hidden_size"] = m.hidden_size;
  j["intermediate_size"] = m.intermediate_size;
  j["num_hidden_layers"] = m.num_hidden_layers;
  j["num_attention_heads"] = m.num_attention_heads;
  j["num_key_value_heads"] = m.num_key_value_heads;
  j["head_dim"] = m.head_size();
  j["rms_norm_eps"] = m.rms_norm_eps;
  j["max_position_embeddings"] = m.max_position_embeddings;
  j["tie_word_embeddings"] = m.tie_word_embeddings;
  j["bos_token_id"] = m.bos_token_id;
  j["eos_token_id"] = m.eos_token_id;
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  j["mlp_bias"] = false;
  j["torch_dtype"] = "float32";
  position::rope_config rope = c.rope;
  rope.head_dim = m.head_size();
  rope.max_position_embeddings = m.max_position_embeddings;
  position::write_rope_config(rope, j, c.convention);
  return j;
}

// Weights shaped for config.model from the tensors of a safetensors file.
template <real_scalar T>
llama_weights<T> read_hf_weights(const io::safetensors::reader& file, const llama_config& config) {
  llama_weights<T> w(config);
  w.for_each([&](const std::string& name, tensor<T>& t) {
    if (!file.contains(name)) raise<format_error>(file.source(), ": missing tensor '", name, "'");
    tensor<T> loaded = file.read<T>(name);
    if (!(loaded.extents() == t.extents())) {
      raise<shape_error>(file.source(), ": tensor '", name, "' is ", loaded.extents().str(), ", the config needs ",
                         t.extents().str());
    }
    t = std::move(loaded);
  });
  return w;
}

template <real_scalar T>
struct hf_checkpoint {
  hf_config config;
  llama_weights<T> weights;
};

// Reads DIR/config.json and DIR/model.safetensors.
template <real_scalar T>
hf_checkpoint<T> load_hf_checkpoint(const std::filesystem::path& dir) {
  const auto weights_path = dir / "model.safetensors";
  if (!std::filesystem::exists(weights_path)) {
    if (std::filesystem::exists(dir / "model.safetensors.index.json")) {
      raise<io_error>(dir.string(), ": sharded checkpoints (model.safetensors.index.json) are not supported");
    }
    raise<io_error>(weights_path.string(), ": no such file");
  }
  hf_checkpoint<T> c;
  c.config = load_hf_config(dir / "config.json");
  c.weights = read_hf_weights<T>(io::safetensors::reader::open(weights_path), c.config.model);
  return c;
}

// Writes DIR/config.json and DIR/model.safetensors (F32, or BF16 when asked), each atomically.
template <real_scalar T>
void save_hf_checkpoint(const std::filesystem::path& dir, const hf_config& config, const llama_weights<T>& weights,
                        io::safetensors::element_type stored = io::safetensors::element_type::f32) {
  if (config.model.layout != rope_layout::rotate_half) {
    raise<config_error>("save_hf_checkpoint: Hugging Face checkpoints rotate halves; permute the q/k weights of an ",
                        name(config.model.layout), " model first");
  }
  if (weights.memory() != nullptr) {  // a model in device memory: write its host copy
    save_hf_checkpoint(dir, config, weights.to(nullptr), stored);
    return;
  }
  std::filesystem::create_directories(dir);
  io::safetensors::writer file;
  file.set_metadata("format", "pt");
  weights.for_each([&](const std::string& name, const tensor<T>& t) {
    if constexpr (std::is_same_v<T, float>) {
      file.add(name, t.view(), stored);
    } else {
      file.add(name, convert<float, T>(t.view()).view(), stored);
    }
  });
  file.write(dir / "model.safetensors");
  io::atomic_write(dir / "config.json", [&](io::atomic_file& f) { f.write(to_json(config).dump(2) + "\n"); });
}

}  // namespace lsk::model

// Loading a model and a tokenizer for the lsk subcommands: a Hugging Face
// directory (config.json + model.safetensors) or a llama2.c .bin file, and a
// SentencePiece model (when lsk was built with SentencePiece).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lsk/model/hf_checkpoint.hpp"
#include "lsk/model/llama.hpp"
#include "lsk/model/llama2c_import.hpp"
#include "lsk/position/rope.hpp"
#if defined(LSK_HAS_SENTENCEPIECE)
#include "lsk/data/sentencepiece_tokenizer.hpp"
#endif

namespace lsk::cli {

// An HF directory, or a llama2.c checkpoint (a regular file).
inline model::hf_checkpoint<float> load_checkpoint(const std::filesystem::path& path) {
  if (std::filesystem::is_directory(path)) return model::load_hf_checkpoint<float>(path);
  if (!std::filesystem::exists(path)) raise<io_error>(path.string(), ": no such file or directory");
  return model::import_llama2c(path);
}

inline model::llama<float> make_model(model::hf_checkpoint<float> ck, index_t rows) {
  model::llama<float> m(ck.config.model, std::move(ck.weights));
  m.set_position_encoding(position::rope(ck.config.rope), rows);
  return m;
}

// Text <-> token ids.
class text_codec {
 public:
  explicit text_codec(const std::filesystem::path& tokenizer_path) {
#if defined(LSK_HAS_SENTENCEPIECE)
    sp_ = std::make_unique<data::sentencepiece_tokenizer>(tokenizer_path);
#else
    raise<config_error>("--tokenizer ", tokenizer_path.string(), ": this lsk was built without SentencePiece");
#endif
  }
  std::vector<std::int32_t> encode(const std::string& text) const {
#if defined(LSK_HAS_SENTENCEPIECE)
    return sp_->encode(text);
#else
    (void)text;
    return {};
#endif
  }
  std::string decode(std::span<const std::int32_t> ids) const {
#if defined(LSK_HAS_SENTENCEPIECE)
    return sp_->decode(ids);
#else
    (void)ids;
    return {};
#endif
  }

 private:
#if defined(LSK_HAS_SENTENCEPIECE)
  std::unique_ptr<data::sentencepiece_tokenizer> sp_;
#endif
};

// --tokenizer if given, else a tokenizer.model / tok*.model beside the model.
inline std::filesystem::path find_tokenizer(const std::filesystem::path& model_path, const std::string& given) {
  if (!given.empty()) return given;
  const auto dir = std::filesystem::is_directory(model_path) ? model_path : model_path.parent_path();
  if (std::filesystem::exists(dir / "tokenizer.model")) return dir / "tokenizer.model";
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.starts_with("tok") && e.path().extension() == ".model") return e.path();
  }
  raise<config_error>("no tokenizer found beside ", model_path.string(), ": pass --tokenizer PATH");
}

}  // namespace lsk::cli

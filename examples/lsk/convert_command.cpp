// lsk convert --from PATH.bin --out DIR [--dtype f32|bf16]
// Reads a llama2.c checkpoint, permutes its q/k weights to Hugging Face's
// rotate-half RoPE layout and writes DIR/config.json and DIR/model.safetensors,
// which transformers' LlamaForCausalLM loads.
#include "convert_command.hpp"

#include <cstdio>
#include <memory>
#include <string>

#include "model_loading.hpp"

namespace {
struct convert_args {
  std::string from, out, dtype = "f32";
};

void run_convert(const convert_args& a) {
  const auto ck = lsk::model::import_llama2c(a.from, lsk::rope_layout::rotate_half);
  const auto stored =
      a.dtype == "bf16" ? lsk::io::safetensors::element_type::bf16 : lsk::io::safetensors::element_type::f32;
  lsk::model::save_hf_checkpoint(a.out, ck.config, ck.weights, stored);
  std::printf("wrote %s (%lld parameters, %s)\n", a.out.c_str(),
              static_cast<long long>(ck.config.model.parameter_count()), a.dtype.c_str());
}
}  // namespace

void add_convert_command(CLI::App& app) {
  auto args = std::make_shared<convert_args>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a llama2.c checkpoint to a Hugging Face directory");
  cmd->add_option("--from", args->from, "llama2.c .bin checkpoint")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "output directory")->required();
  cmd->add_option("--dtype", args->dtype, "weights as f32 or bf16")->check(CLI::IsMember({"f32", "bf16"}));
  cmd->callback([args] { run_convert(*args); });
}

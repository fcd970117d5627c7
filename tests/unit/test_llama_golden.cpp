// The Llama model against PyTorch + transformers (LlamaForCausalLM, float32):
// fixtures made by tools/gen_llama_golden.py for two configurations (GQA with an
// untied head; multi-head with a tied head and a raised RoPE base): logits,
// loss, every parameter gradient, and the losses of 10 torch.optim.AdamW steps.
#include <cmath>
#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/model/hf_checkpoint.hpp"
#include "lsk/model/llama.hpp"
#include "lsk/optim/adamw.hpp"
#include "lsk/position/rope.hpp"

namespace {
using lsk::index_t;
namespace fs = std::filesystem;

const fs::path golden_dir = fs::path(LSK_SOURCE_DIR) / "tests" / "golden" / "llama";

double scaled_error(const lsk::tensor<float>& actual, const lsk::tensor<float>& expected) {
  REQUIRE(actual.extents() == expected.extents());
  double err = 0, scale = 1e-30;
  for (std::size_t i = 0; i < actual.values().size(); ++i) {
    err = std::max(err, double(std::abs(actual.values()[i] - expected.values()[i])));
    scale = std::max(scale, double(std::abs(expected.values()[i])));
  }
  return err / scale;
}

struct fixture {
  lsk::model::llama<float> model;
  lsk::model::token_batch batch;
  lsk::io::safetensors::reader golden;
  nlohmann::json meta;
};

fixture load(const std::string& name) {
  const fs::path dir = golden_dir / name;
  auto ckpt = lsk::model::load_hf_checkpoint<float>(dir);
  lsk::model::llama<float> model(ckpt.config.model, std::move(ckpt.weights));
  model.set_position_encoding(lsk::position::rope(ckpt.config.rope), ckpt.config.model.max_position_embeddings);
  auto golden = lsk::io::safetensors::reader::open(dir / "golden.safetensors");
  const auto tokens = golden.read<std::int32_t>("tokens");
  const auto targets = golden.read<std::int32_t>("targets");
  lsk::model::token_batch batch(tokens.dim(0), tokens.dim(1));
  for (index_t i = 0; i < batch.size(); ++i) {
    batch.tokens(i) = tokens.values()[static_cast<std::size_t>(i)];
    const std::int32_t t = targets.values()[static_cast<std::size_t>(i)];
    batch.targets(i) = t;
    batch.loss_mask(i) = t == -100 ? 0 : 1;
  }
  return {std::move(model), std::move(batch), std::move(golden), lsk::position::load_json_file(dir / "golden.json")};
}
}  // namespace

TEST_CASE("llama matches transformers: logits, loss, gradients, AdamW steps", "[model][golden]") {
  for (const char* name : {"gqa_untied", "mha_tied"}) {
    INFO("fixture " << name);
    auto f = load(name);
    lsk::backends::cpu be;
    f.model.enable_training();
    const auto result = f.model.forward(be, f.batch);
    const auto logits = f.golden.read<float>("logits");
    lsk::tensor<float> ours = f.model.logits();
    ours.reshape(logits.extents());
    CHECK(scaled_error(ours, logits) <= 1e-4);
    CHECK(result.loss == Approx(f.meta["loss"].get<double>()).epsilon(1e-5));

    f.model.backward(be);
    int grads = 0;
    f.model.grads.for_each([&](const std::string& pname, const lsk::tensor<float>& g) {
      INFO("gradient of " << pname);
      CHECK(scaled_error(g, f.golden.read<float>("grad." + pname)) <= 1e-4);
      ++grads;
    });
    CHECK(grads == static_cast<int>(f.golden.tensors().size()) - 3);

    const auto& h = f.meta["adamw"];
    lsk::optim::adamw<float> opt(
        {.lr = h["lr"], .beta1 = h["beta1"], .beta2 = h["beta2"], .eps = h["eps"], .weight_decay = h["weight_decay"]});
    f.model.weights.for_each([&](const std::string& pname, lsk::tensor<float>& w) {
      f.model.grads.for_each([&](const std::string& gname, lsk::tensor<float>& g) {
        if (gname == pname) opt.add(w.view(), g.view());
      });
    });
    const auto& expected = f.meta["adamw_step_losses"];
    for (std::size_t step = 0; step < expected.size(); ++step) {
      f.model.zero_grad();
      const double loss = f.model.forward(be, f.batch).loss;
      INFO("AdamW step " << step);
      CHECK(loss == Approx(expected[step].get<double>()).epsilon(1e-5));
      f.model.backward(be);
      opt.step(be);
    }
  }
}

TEST_CASE("an HF checkpoint saved by lsk loads back identically", "[model][golden][io]") {
  auto f = load("gqa_untied");
  const fs::path dir = fs::temp_directory_path() / "lsk_test_hf_roundtrip";
  fs::remove_all(dir);
  const auto cfg = lsk::model::load_hf_config(golden_dir / "gqa_untied" / "config.json");
  lsk::model::save_hf_checkpoint(dir, cfg, f.model.weights);
  const auto back = lsk::model::load_hf_checkpoint<float>(dir);
  CHECK(back.config.model.hidden_size == cfg.model.hidden_size);
  CHECK(back.config.rope == cfg.rope);
  std::vector<const lsk::tensor<float>*> a, b;
  f.model.weights.for_each([&](const std::string&, const lsk::tensor<float>& t) { a.push_back(&t); });
  back.weights.for_each([&](const std::string&, const lsk::tensor<float>& t) { b.push_back(&t); });
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i]->values() == b[i]->values());
  fs::remove_all(dir);
}

TEST_CASE("malformed HF configs are rejected naming the key", "[model][errors]") {
  nlohmann::json j = lsk::position::load_json_file(golden_dir / "gqa_untied" / "config.json");
  auto broken = j;
  broken.erase("hidden_size");
  CHECK_THROWS_WITH(lsk::model::parse_hf_config(broken, "x.json"),
                    Catch::Contains("x.json: missing key 'hidden_size'"));
  broken = j;
  broken["num_key_value_heads"] = 3;
  CHECK_THROWS_WITH(lsk::model::parse_hf_config(broken), Catch::Contains("num_key_value_heads 3 must divide"));
  broken = j;
  broken["vocab_size"] = "many";
  CHECK_THROWS_AS(lsk::model::parse_hf_config(broken), lsk::config_error);
  broken = j;
  broken["model_type"] = "gpt2";
  CHECK_THROWS_WITH(lsk::model::parse_hf_config(broken), Catch::Contains("model_type 'gpt2'"));
}

// rope_config from and to Hugging Face config.json, in both conventions.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "lsk/position.hpp"

namespace {
using nlohmann::json;
using namespace lsk::position;
using Catch::Matchers::Contains;

json llama_base() {
  return json{{"architectures", {"LlamaForCausalLM"}},
              {"hidden_size", 4096},
              {"num_attention_heads", 32},
              {"num_key_value_heads", 8},
              {"max_position_embeddings", 8192},
              {"vocab_size", 128256}};
}

std::filesystem::path temp_dir() {
  auto p = std::filesystem::temp_directory_path() / ("lsk-rope-json-" + std::to_string(::getpid()));
  std::filesystem::create_directories(p);
  return p;
}
}  // namespace

TEST_CASE("the older rope_scaling convention is read", "[rope][json]") {
  json j = llama_base();
  j["rope_theta"] = 500000.0;
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  const auto c = rope_config_from_json(j);
  CHECK(c.scaling == rope_scaling::llama3);
  CHECK(c.theta == 500000.0);
  CHECK(c.head_dim == 128);
  CHECK(c.max_position_embeddings == 8192);
  CHECK(c.factor == 8.0);
  CHECK(c.original_max_position_embeddings == 8192);
  CHECK(rope_convention_of(j) == rope_convention::rope_scaling);

  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2}};  // the oldest key name, an integer factor
  const auto lin = rope_config_from_json(j);
  CHECK(lin.scaling == rope_scaling::linear);
  CHECK(lin.factor == 2.0);

  j["rope_scaling"] = nullptr;
  j.erase("rope_theta");
  const auto plain = rope_config_from_json(j);
  CHECK(plain.scaling == rope_scaling::none);
  CHECK(plain.theta == 10000.0);
}

TEST_CASE("the newer rope_parameters convention is read; rope_scaling wins when both are there", "[rope][json]") {
  json j = llama_base();
  j["head_dim"] = 64;
  j["rope_parameters"] = {{"rope_type", "yarn"},
                          {"rope_theta", 1000000.0},
                          {"factor", 4.0},
                          {"original_max_position_embeddings", 2048},
                          {"beta_fast", 16},
                          {"truncate", false},
                          {"partial_rotary_factor", 0.5}};
  auto c = rope_config_from_json(j);
  CHECK(c.scaling == rope_scaling::yarn);
  CHECK(c.theta == 1000000.0);
  CHECK(c.head_dim == 64);
  CHECK(c.rotary_dim() == 32);
  CHECK(c.beta_fast == 16.0);
  CHECK_FALSE(c.beta_slow.has_value());
  CHECK(c.truncate == false);
  CHECK(rope_convention_of(j) == rope_convention::rope_parameters);

  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 3.0}};
  j["rope_theta"] = 20000.0;
  c = rope_config_from_json(j);
  CHECK(c.scaling == rope_scaling::linear);
  CHECK(c.theta == 20000.0);
}

TEST_CASE("a top-level original_max_position_embeddings wins for the types that use it", "[rope][json]") {
  json j = llama_base();
  j["original_max_position_embeddings"] = 4096;
  j["rope_scaling"] = {{"type", "longrope"},
                       {"short_factor", std::vector<double>(64, 1.0)},
                       {"long_factor", std::vector<double>(64, 2.0)},
                       {"original_max_position_embeddings", 1024}};
  CHECK(rope_config_from_json(j).original_max_position_embeddings == 4096);
}

TEST_CASE("bad configs throw config_error naming the key", "[rope][json][errors]") {
  json j = llama_base();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", "four"}};
  CHECK_THROWS_WITH(rope_config_from_json(j), Contains("'rope_scaling.factor' must be a number"));
  j["rope_scaling"] = {{"rope_type", "su"}};
  CHECK_THROWS_WITH(rope_config_from_json(j), Contains("'rope_scaling.rope_type': unknown rope_type \"su\""));
  j["rope_scaling"] = {{"rope_type", "linear"}};
  CHECK_THROWS_WITH(rope_config_from_json(j), Contains("'rope_scaling.factor' is required"));
  j["rope_scaling"] = {{"rope_type", "longrope"}, {"short_factor", {1, 2}}, {"long_factor", {1, 2}}};
  CHECK_THROWS_WITH(rope_config_from_json(j), Contains("'rope_scaling.short_factor' must hold"));
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"truncate", "yes"}};
  CHECK_THROWS_WITH(rope_config_from_json(j), Contains("'rope_scaling.truncate'"));
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}};
  CHECK_THROWS_WITH(rope_config_from_json(j), Contains("'rope_scaling.high_freq_factor' is required"));
  j["rope_scaling"] = 3;
  CHECK_THROWS_WITH(rope_config_from_json(j), Contains("'rope_scaling' must be an object"));
  j.erase("rope_scaling");
  j["rope_parameters"] = {{"full_attention", {{"rope_type", "default"}}}};
  CHECK_THROWS_WITH(rope_config_from_json(j), Contains("rope_parameters.full_attention"));
  j.erase("rope_parameters");
  j["rope_theta"] = "big";
  CHECK_THROWS_WITH(rope_config_from_json(j), Contains("'rope_theta'"));
  j["rope_theta"] = 10000.0;
  j.erase("hidden_size");
  CHECK_THROWS_WITH(rope_config_from_json(j), Contains("'head_dim'"));
  j["head_dim"] = 128;
  j["max_position_embeddings"] = 4096.5;
  CHECK_THROWS_WITH(rope_config_from_json(j), Contains("'max_position_embeddings' must be an integer"));
  CHECK_THROWS_AS(rope_config_from_json(json::array()), lsk::config_error);
}

TEST_CASE("written configs read back the same, in both conventions, other keys kept", "[rope][json]") {
  rope_config c;
  c.head_dim = 128;
  c.max_position_embeddings = 4096;
  std::vector<rope_config> configs{c,
                                   with_base(c, 500000.0),
                                   with_ntk_scaling(c, 32768),
                                   with_yarn(c, 16384),
                                   with_linear_scaling(c, 10000),
                                   with_dynamic_ntk(c, 2.5)};
  auto y = with_yarn(c, 65536);
  y.mscale = 0.707;
  y.mscale_all_dim = 0.707;
  y.truncate = false;
  y.beta_slow = 2.0;
  configs.push_back(y);
  auto lr = c;
  lr.scaling = rope_scaling::longrope;
  lr.partial_rotary_factor = 0.5;
  lr.short_factor.assign(32, 1.25);
  lr.long_factor.assign(32, 3.5);
  lr.original_max_position_embeddings = 1024;
  lr.attention_factor = 1.1;
  configs.push_back(lr);
  for (const auto& cfg : configs) {
    for (auto conv : {rope_convention::rope_scaling, rope_convention::rope_parameters}) {
      json j = llama_base();
      write_rope_config(cfg, j, conv);
      INFO(j.dump());
      CHECK(rope_config_from_json(j) == cfg);
      CHECK(rope_convention_of(j) == conv);
      CHECK(j.at("vocab_size") == 128256);
      CHECK(j.contains("rope_scaling") == (conv == rope_convention::rope_scaling));
      CHECK(j.contains("rope_parameters") == (conv == rope_convention::rope_parameters));
      CHECK_FALSE(j.contains("head_dim"));  // hidden_size / num_attention_heads gives it
      // The written value is what transformers reads back.
      const json reread = json::parse(j.dump());
      CHECK(rope(rope_config_from_json(reread)).inv_freq(0) == rope(cfg).inv_freq(0));
    }
  }
}

TEST_CASE("save_rope_config records an edit in config.json atomically, in the file's convention", "[rope][json]") {
  const auto dir = temp_dir();
  const auto path = dir / "config.json";
  json j = llama_base();
  j["rope_theta"] = 10000.0;
  j["rope_scaling"] = nullptr;
  { std::ofstream(path) << j.dump(2); }
  const auto loaded = load_rope_config(path);
  save_rope_config(path, with_ntk_scaling(loaded, 65536));  // the one-line stage-1 change
  const json saved = load_json_file(path);
  CHECK(saved.at("rope_theta").get<double>() == with_ntk_scaling(loaded, 65536).theta);
  CHECK(saved.at("max_position_embeddings") == 65536);
  CHECK(saved.at("rope_scaling").is_null());
  CHECK(saved.at("architectures")[0] == "LlamaForCausalLM");
  CHECK(load_rope_config(path) == with_ntk_scaling(loaded, 65536));
  for (const auto& e : std::filesystem::directory_iterator(dir)) CHECK(e.path().filename() == "config.json");

  save_rope_config(path, with_base(loaded, 500000.0), rope_convention::rope_parameters);
  CHECK(load_json_file(path).at("rope_parameters").at("rope_theta") == 500000.0);
  CHECK_FALSE(load_json_file(path).contains("rope_theta"));

  { std::ofstream(path) << "{\"rope_theta\": 10000,\n \"hidden_size\": }"; }
  CHECK_THROWS_AS(load_rope_config(path), lsk::format_error);
  CHECK_THROWS_WITH(load_rope_config(path), Contains("byte"));
  CHECK_THROWS_AS(load_rope_config(dir / "missing.json"), lsk::io_error);
  { std::ofstream(path) << "{\"hidden_size\": 512, \"num_attention_heads\": 8, \"rope_theta\": -1}"; }
  CHECK_THROWS_WITH(load_rope_config(path), Contains("config.json") && Contains("rope_theta"));
  std::filesystem::remove_all(dir);
}

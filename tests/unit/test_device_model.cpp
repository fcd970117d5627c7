// The model, the optimizer and the trainer in a device backend's memory,
// checked on the host with lsk::testing::pretend_device<cpu>: it refuses every
// pointer outside its own blocks and computes with the cpu backend, so a model
// trained there must match the same model trained on the cpu backend bit for
// bit, and any host access to device state fails loudly.
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/dist/thread_communicator.hpp"
#include "lsk/eval/perplexity.hpp"
#include "lsk/model/generate.hpp"
#include "lsk/testing/pretend_device.hpp"
#include "lsk/testing/tiny_llama.hpp"
#include "lsk/train/trainer.hpp"

namespace {
using lsk::index_t;
using device = lsk::testing::pretend_device<lsk::backends::cpu>;
namespace fs = std::filesystem;

lsk::model::hf_config tiny_config() { return lsk::testing::tiny_llama_config(); }
lsk::model::llama<float> fresh_model(const lsk::model::hf_config& c) { return lsk::testing::tiny_llama(c); }
lsk::model::token_batch make_batch(std::int64_t step, index_t micro) {
  return lsk::testing::patterned_batch(step, micro, 12, 30);
}

std::vector<float> host_values(const lsk::tensor<float>& t) { return t.to_host().values(); }

void require_same_weights(const lsk::model::llama_weights<float>& a, const lsk::model::llama_weights<float>& b) {
  std::vector<std::vector<float>> va, vb;
  a.for_each([&](const std::string&, const lsk::tensor<float>& t) { va.push_back(host_values(t)); });
  b.for_each([&](const std::string&, const lsk::tensor<float>& t) { vb.push_back(host_values(t)); });
  REQUIRE(va == vb);
}

// Thread ranks moving pretend_device memory (host heap blocks, so the thread
// engine can), declared as device memory like NCCL's.
struct pretend_device_communicator {
  static constexpr std::string_view name = "pretend_device threads";
  static constexpr lsk::memory_space memory = lsk::memory_space::device;
  lsk::dist::thread_communicator* threads;
  int rank() const { return threads->rank(); }
  int size() const { return threads->size(); }
  void all_reduce_sum(std::span<float> b) { threads->all_reduce_sum(b); }
  void all_reduce_sum(std::span<double> b) { threads->all_reduce_sum(b); }
  void send_recv(std::span<const float> s, int d, std::span<float> r, int src) { threads->send_recv(s, d, r, src); }
  void send_recv(std::span<const double> s, int d, std::span<double> r, int src) { threads->send_recv(s, d, r, src); }
  void barrier() { threads->barrier(); }
};

lsk::train::trainer_options options(const fs::path& dir = {}) {
  lsk::train::trainer_options o;
  o.micro_batches = 2;
  o.max_grad_norm = 0.5;
  o.adamw = {.lr = 3e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
  o.learning_rate = [](std::int64_t step) { return 3e-3 * (1.0 - 0.05 * double(step)); };
  o.checkpoint_dir = dir;
  return o;
}

// Trains m `steps` steps on the cpu backend with options(); the losses.
std::vector<double> train_on_host(lsk::model::llama<float>& m, const lsk::model::hf_config& cfg, int steps) {
  lsk::backends::cpu cpu;
  lsk::train::trainer t(m, cfg, options());
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) losses.push_back(t.step(cpu, make_batch).loss);
  return losses;
}
}  // namespace

TEST_CASE("device tensors keep their elements in the device's memory", "[tensor][device]") {
  const int before = device::live_blocks;
  {
    device be;
    lsk::backend_memory<device> memory(be);
    lsk::tensor<float> host(lsk::shape{2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
    const lsk::tensor<float> on_device = host.to(&memory);
    CHECK(on_device.on_device());
    CHECK(on_device.memory() == &memory);
    CHECK(device::live_blocks == before + 1);
    CHECK_THROWS_WITH(on_device(0, 1), Catch::Contains("pretend_device memory"));
    CHECK_THROWS_AS(on_device.values(), lsk::error);
    const lsk::tensor<float> copy = on_device;  // a second device block, same elements
    CHECK(copy.on_device());
    CHECK(copy.data() != on_device.data());
    CHECK(copy.to_host().values() == host.values());
    lsk::tensor<float> filled(lsk::shape{4}, &memory);
    CHECK(filled.to_host().values() == std::vector<float>(4, 0.0f));
    filled.fill(2.5f);
    CHECK(filled.to_host().values() == std::vector<float>(4, 2.5f));
    CHECK_THROWS_AS(filled.copy_from(host), lsk::shape_error);
    lsk::tensor<float> back(lsk::shape{2, 3});
    back.copy_from(copy);
    CHECK(back.values() == host.values());
    // A host view handed to the device backend is refused.
    const auto fill_host = [&] { lsk::fill<device, float>(be, back.view(), 1.0f); };
    CHECK_THROWS_WITH(fill_host(), Catch::Contains("not device memory"));
  }
  CHECK(device::live_blocks == before);
}

TEST_CASE("a model in device memory computes what it computes on the host, bit for bit", "[model][device]") {
  const auto cfg = tiny_config();
  lsk::backends::cpu cpu;
  device be;
  lsk::backend_memory<device> memory(be);
  auto host_model = fresh_model(cfg);
  auto device_model = fresh_model(cfg);
  device_model.to(&memory);
  REQUIRE(device_model.memory() == &memory);
  REQUIRE(device_model.rotary.cos.on_device());

  const auto batch = make_batch(3, 1);
  const auto h = host_model.forward(cpu, batch);
  const auto d = device_model.forward(be, batch);
  CHECK(h.loss == d.loss);
  CHECK(h.valid == d.valid);
  CHECK(device_model.logits().on_device());
  CHECK(host_model.logits().values() == host_values(device_model.logits()));
  host_model.backward(cpu);
  device_model.backward(be);
  require_same_weights(host_model.grads, device_model.grads);

  // Generation (prefill, then one token per step through the KV cache).
  lsk::model::generation_options g;
  g.max_new_tokens = 8;
  g.stop_at_eos = false;
  lsk::rng r1(5), r2(5);
  const std::vector<std::int32_t> prompt{1, 4, 9};
  CHECK(lsk::model::generate(cpu, host_model, prompt, g, r1) == lsk::model::generate(be, device_model, prompt, g, r2));

  // Perplexity reads the logits through a host copy.
  std::vector<std::int32_t> tokens(40);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::int32_t>((i * 7) % 30);
  const auto ph = lsk::eval::perplexity_by_length(cpu, host_model, tokens, {8, 16}, 2);
  const auto pd = lsk::eval::perplexity_by_length(be, device_model, tokens, {8, 16}, 2);
  REQUIRE(ph.size() == pd.size());
  for (std::size_t i = 0; i < ph.size(); ++i) CHECK(ph[i].nll == pd[i].nll);

  // Back on the host, the model is the host model again.
  device_model.to(nullptr);
  CHECK_FALSE(device_model.memory());
  CHECK(device_model.forward(cpu, batch).loss == h.loss);
}

TEST_CASE("what a device model cannot do yet is refused with a message", "[model][device]") {
  const auto cfg = tiny_config();
  device be;
  lsk::backend_memory<device> memory(be);
  auto m = fresh_model(cfg);
  m.to(&memory);
  auto packed = make_batch(0, 0);
  const index_t lengths[] = {5, 7};
  packed.set_documents(0, lengths);
  CHECK_THROWS_AS(m.forward(be, packed), lsk::unsupported_error);
  {  // context parallelism on a device backend without a device ring
    lsk::dist::thread_grid grid(1, 1);
    grid.run([&](lsk::dist::thread_communicator& world, lsk::dist::thread_communicator&) {
      lsk::dist::any_communicator comm(world);
      m.set_context_parallel(&comm);
      CHECK_THROWS_WITH(m.forward(be, make_batch(0, 0)),
                        Catch::Contains("context parallelism on backend pretend_device"));
      m.set_context_parallel(nullptr);
    });
  }
  auto bad = make_batch(0, 0);
  bad.tokens(5) = 30;  // device ops do not check ids: the model does before the copy
  CHECK_THROWS_WITH(m.forward(be, bad), Catch::Contains("token id 30 at position 5"));

  // A host backend cannot reach the device's memory, a device backend not the host's.
  lsk::backends::cpu cpu;
  CHECK_THROWS_WITH(m.forward(cpu, make_batch(0, 0)), Catch::Contains("pretend_device memory"));
  auto host_model = fresh_model(cfg);
  CHECK_THROWS_WITH(host_model.forward(be, make_batch(0, 0)), Catch::Contains("to(memory)"));
}

TEST_CASE("the trainer trains a device model exactly as a host model, and resumes it", "[train][device]") {
  const fs::path dir = fs::temp_directory_path() / "lsk_test_device_trainer";
  fs::remove_all(dir);
  const auto cfg = tiny_config();

  auto host_model = fresh_model(cfg);
  const auto host_losses = train_on_host(host_model, cfg, 6);

  device be;
  lsk::backend_memory<device> memory(be);
  std::vector<double> device_losses;
  {
    auto m = fresh_model(cfg);
    m.to(&memory);
    lsk::train::trainer t(m, cfg, options(dir));
    for (int s = 0; s < 3; ++s) device_losses.push_back(t.step(be, make_batch).loss);
    t.save();
  }
  auto m = fresh_model(cfg);
  m.to(&memory);
  lsk::train::trainer t(m, cfg, options(dir));
  REQUIRE(t.resume());  // weights and moments copied into device memory
  REQUIRE(t.steps_done() == 3);
  for (int s = 3; s < 6; ++s) device_losses.push_back(t.step(be, make_batch).loss);

  REQUIRE(device_losses == host_losses);
  require_same_weights(host_model.weights, m.weights);
  fs::remove_all(dir);
}

TEST_CASE("a device model recomputing its activations trains as a host model keeping them (LM head in chunks)",
          "[train][device][recompute][head]") {
  const auto cfg = tiny_config();
  auto host_model = fresh_model(cfg);
  host_model.config.head_chunk_tokens = 5;
  const auto host_losses = train_on_host(host_model, cfg, 4);

  device be;
  lsk::backend_memory<device> memory(be);
  auto m = fresh_model(cfg);
  m.config.recompute_activations = true;
  m.config.head_chunk_tokens = 5;
  m.to(&memory);
  lsk::train::trainer t(m, cfg, options());
  std::vector<double> device_losses;
  for (int s = 0; s < 4; ++s) device_losses.push_back(t.step(be, make_batch).loss);
  CHECK(device_losses == host_losses);
  require_same_weights(host_model.weights, m.weights);
  CHECK(m.activation_elements() < host_model.activation_elements());
}

TEST_CASE("data parallelism on device models sums device gradients like host ranks do", "[train][device][dist]") {
  const auto cfg = tiny_config();
  // Two ranks on the host, then two ranks whose models are on pretend devices.
  const auto train_on_two_ranks = [&](bool on_device) {
    std::vector<double> losses;
    std::vector<float> weights;
    lsk::dist::thread_grid grid(2, 1);
    grid.run([&](lsk::dist::thread_communicator& world, lsk::dist::thread_communicator&) {
      device dev;
      lsk::backend_memory<device> memory(dev);
      lsk::backends::cpu cpu;
      pretend_device_communicator device_comm{&world};
      auto m = fresh_model(cfg);
      auto o = options();
      if (on_device) {
        m.to(&memory);
        o.parallel.data_parallel.emplace(device_comm);
      } else {
        o.parallel.data_parallel.emplace(world);
      }
      lsk::train::trainer t(m, cfg, o);
      std::vector<double> mine;
      for (int s = 0; s < 4; ++s)
        mine.push_back(on_device ? t.step(dev, make_batch).loss : t.step(cpu, make_batch).loss);
      if (world.rank() == 0) {
        losses = mine;
        m.weights.for_each([&](const std::string&, const lsk::tensor<float>& w) {
          const auto h = w.to_host();
          weights.insert(weights.end(), h.values().begin(), h.values().end());
        });
      }
    });
    return std::pair{losses, weights};
  };
  const auto host = train_on_two_ranks(false);
  const auto on_device = train_on_two_ranks(true);
  REQUIRE(host.first.size() == 4);
  CHECK(on_device.first == host.first);
  CHECK(on_device.second == host.second);

  // A host communicator cannot carry a device model's gradients.
  lsk::dist::thread_grid grid(2, 1);
  std::vector<std::string> errors(2);
  grid.run([&](lsk::dist::thread_communicator& world, lsk::dist::thread_communicator&) {
    device dev;
    lsk::backend_memory<device> memory(dev);
    auto m = fresh_model(cfg);
    m.to(&memory);
    auto o = options();
    o.parallel.data_parallel.emplace(world);
    try {
      lsk::train::trainer t(m, cfg, o);
    } catch (const lsk::config_error& e) {
      errors[static_cast<std::size_t>(world.rank())] = e.what();
    }
  });
  for (const auto& e : errors)
    CHECK_THAT(e, Catch::Contains("works in host memory, but the model is in pretend_device"));
}

TEST_CASE("training results do not depend on where the memory lies (alignment)", "[train][device]") {
  // The same model and batches with every tensor placed 0..60 bytes past a 64-byte
  // boundary. Vectorised reductions that start at the first aligned element sum in
  // an order that depends on the address, so a run's bits would depend on what the
  // heap did before (in a program, on anything as unrelated as an output path's length).
  const auto cfg = lsk::testing::tiny_llama_config(96, 16, 32);
  const auto batch = [](std::int64_t step, index_t micro) {
    return lsk::testing::patterned_batch(step, micro, 24, 96, 3);
  };
  const auto run = [&](std::size_t offset) {
    device be(offset);
    lsk::backend_memory<device> memory(be);
    auto m = fresh_model(cfg);
    m.to(&memory);
    lsk::train::trainer t(m, cfg, options());
    std::vector<double> losses;
    for (int s = 0; s < 3; ++s) losses.push_back(t.step(be, batch).loss);
    std::vector<std::vector<float>> weights;
    m.weights.for_each([&](const std::string&, const lsk::tensor<float>& w) { weights.push_back(host_values(w)); });
    return std::pair{losses, weights};
  };
  const auto aligned = run(0);
  for (const std::size_t offset : {4, 8, 12, 20, 36, 60}) {
    INFO("offset " << offset << " bytes");
    const auto shifted = run(offset);
    CHECK(shifted.first == aligned.first);
    CHECK(shifted.second == aligned.second);
  }
}

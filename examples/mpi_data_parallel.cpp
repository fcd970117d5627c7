// mpi_data_parallel: data-parallel training of a tiny Llama over MPI. Every
// rank builds the same model (same seed), takes its share of each batch,
// normalises its loss by the global count of valid tokens, and all-reduces
// the gradients before the AdamW step, so all ranks take the same step.
//
//   mpirun -np 2 build/examples/mpi_data_parallel [steps]      (as root: --allow-run-as-root)
// Prints the loss per step on rank 0 and, at the end, checks that every rank
// holds bitwise the same weights (exit status 1 if not, or if the loss did not
// fall).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/dist/data_parallel.hpp"
#include "lsk/dist/mpi_communicator.hpp"
#include "lsk/model/llama.hpp"
#include "lsk/optim/adamw.hpp"
#include "lsk/position/rope.hpp"

int main(int argc, char** argv) {
  lsk::dist::mpi_environment env(argc, argv);
  try {
    lsk::dist::mpi_communicator comm;
    const int steps = argc > 1 ? std::atoi(argv[1]) : 30;
    lsk::model::llama_config c;
    c.vocab_size = 32;
    c.hidden_size = 32;
    c.intermediate_size = 64;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.max_position_embeddings = 64;
    c.attention = lsk::attention::attention_kind::tiled;
    lsk::rng init(7);
    lsk::model::llama_weights<float> w(c);
    w.init(init);
    lsk::model::llama<float> model(c, std::move(w));
    lsk::position::rope_config rc;
    rc.head_dim = c.head_size();
    model.set_position_encoding(lsk::position::default_rope(rc), 64);
    model.enable_training();
    lsk::optim::adamw<float> opt({.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.0});
    model.weights.for_each([&](const std::string& name, lsk::tensor<float>& t) {
      model.grads.for_each([&](const std::string& gname, lsk::tensor<float>& gt) {
        if (gname == name) opt.add(t.view(), gt.view());
      });
    });

    // A fixed global batch of 8 sequences (a repeating pattern to learn); rank
    // r trains on sequences r, r + P, ...
    const lsk::index_t global_batch = 8, len = 48;
    std::vector<std::vector<std::int32_t>> streams;
    lsk::rng data(11);
    for (lsk::index_t b = 0; b < global_batch; ++b) {
      std::vector<std::int32_t> s(static_cast<std::size_t>(len + 1));
      const auto start = static_cast<std::int32_t>(data.below(32));
      for (std::size_t t = 0; t < s.size(); ++t) s[t] = static_cast<std::int32_t>((start + 3 * t) % 32);
      streams.push_back(std::move(s));
    }
    std::vector<lsk::index_t> mine;
    for (lsk::index_t b = comm.rank(); b < global_batch; b += comm.size()) mine.push_back(b);
    lsk::model::token_batch batch(static_cast<lsk::index_t>(mine.size()), len);
    for (std::size_t i = 0; i < mine.size(); ++i)
      batch.set_sequence(static_cast<lsk::index_t>(i), streams[static_cast<std::size_t>(mine[i])]);

    lsk::backends::cpu be;
    double first = 0, last = 0;
    for (int step = 0; step < steps; ++step) {
      model.zero_grad();
      const double global_tokens = lsk::dist::all_reduce_count(comm, double(batch.valid_tokens()));
      const double local_loss = batch.size() > 0 ? model.forward(be, batch, global_tokens).loss : 0.0;
      if (batch.size() > 0) model.backward(be);
      const double loss = lsk::dist::all_reduce_count(comm, local_loss);  // sum of shares = global mean
      lsk::dist::all_reduce_gradients(comm, model.grads);
      opt.step(be);
      if (step == 0) first = loss;
      last = loss;
      if (comm.rank() == 0 && (step % 5 == 0 || step + 1 == steps)) std::printf("step %3d loss %.4f\n", step, loss);
    }
    // Same weights everywhere: compare every rank's checksum with rank 0's.
    double checksum = 0;
    model.weights.for_each([&](const std::string&, const lsk::tensor<float>& t) {
      for (float x : t.values()) checksum = checksum * 1.0000001 + double(x);
    });
    std::vector<double> sums(static_cast<std::size_t>(comm.size()), 0.0);
    sums[static_cast<std::size_t>(comm.rank())] = checksum;
    comm.all_reduce_sum(std::span<double>(sums));
    bool same = true;
    for (double s : sums) same = same && s == sums[0];
    if (comm.rank() == 0) {
      std::printf("%d ranks: loss %.4f -> %.4f, weights identical on every rank: %s\n", comm.size(), first, last,
                  same ? "yes" : "NO");
    }
    return same && last < first ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}

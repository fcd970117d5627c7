// lsk/train/trainer.hpp: the training loop of one model: micro-batches with
// gradient accumulation, global-norm clipping, a learning-rate schedule,
// AdamW, and checkpoints that a killed run resumes from exactly.
//
// One optimizer step:
//   zero the gradients; for each of the step's micro-batches: forward with the
//   loss normalised by the number of valid tokens of the WHOLE step (so the
//   accumulated gradient is that of the mean over all valid tokens, whatever
//   the micro-batch split), backward (gradients accumulate); clip the global
//   norm; AdamW with lr = schedule(step).
// Batches come from a callable batches(step, micro) -> token_batch that must
// be a pure function of its arguments (and of state saved in the checkpoint),
// so a resumed run sees the same data.
// Data parallel (options.parallel.data_parallel, D ranks of a communicator, every rank
// with the same weights and a trainer of its own): rank r trains on rows
// [r R/D, (r+1) R/D) of each micro-batch of R rows (D must divide R); the
// valid-token count and the loss are summed over ranks, and the gradients are
// summed by a gradient_reducer (buckets all-reduced while the last micro-batch's
// backward runs), so every rank takes the same step: the step of one rank on
// the whole batch, up to the order of the gradient sums. Only rank 0 writes
// checkpoints; every rank resumes from them.
// Context parallel (options.parallel.context_parallel, P ranks that share each
// sequence): data_parallel is then the communicator of all D * P ranks, whose
// ranks d P .. d P + P - 1 form data group d with context ranks 0 .. P-1 (a
// separate communicator, because the gradient all-reduce may run on a worker
// thread while ring attention runs). Group d takes rows [d R/D, (d+1) R/D) of
// each micro-batch, and context rank p keeps its zigzag shard of every row
// (lsk/model/context_shard.hpp); forward/backward run the model's ring
// attention over context_parallel (set only for the step). Counts, losses and
// gradients are summed over all D * P ranks, so every rank again takes the
// step of one rank on the whole batch.
// Memory: the trainer works where the model is: a model moved to a device
// backend's memory (llama::to, before the trainer is made) trains there with
// that backend (gradients, clipping, AdamW moments on the device; checkpoints
// copied to the host). Data parallelism needs a communicator of the model's
// memory (host: threads, MPI; device: NCCL); context parallelism on a device
// needs a backend with a device ring (llama.hpp).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "lsk/dist/any_communicator.hpp"
#include "lsk/dist/gradient_reducer.hpp"
#include "lsk/model/context_shard.hpp"
#include "lsk/model/llama.hpp"
#include "lsk/optim/adamw.hpp"
#include "lsk/optim/grad_clip.hpp"
#include "lsk/train/checkpoint.hpp"

namespace lsk::train {

// The ranks a trainer works with (see the header; the recipe runner passes its own on).
struct parallelism {
  std::optional<dist::any_communicator> data_parallel;     // the ranks to train with (empty: this one alone)
  std::optional<dist::any_communicator> context_parallel;  // the ranks that share each sequence (empty: none)
  bool overlap_gradient_reduction = true;  // all-reduce on a worker thread during backward (MPI: needs THREAD_MULTIPLE)
};

struct trainer_options {
  index_t micro_batches = 1;
  double max_grad_norm = 1.0;  // <= 0: no clipping
  optim::adamw_options adamw{};
  bool decay_norms_and_embeddings = false;
  std::function<double(std::int64_t step)> learning_rate;  // empty: adamw.lr
  std::filesystem::path checkpoint_dir;                    // empty: no checkpoints
  std::int64_t checkpoint_every = 0;                       // 0: only when asked
  parallelism parallel;                                    // empty: this rank alone
};

struct step_record {
  std::int64_t step = 0;  // 1-based index of the optimizer step just taken
  double loss = 0, lr = 0, grad_norm = 0, seconds = 0;
  index_t tokens = 0;  // valid (loss-bearing) tokens
};

class trainer {
 public:
  trainer(model::llama<float>& m, model::hf_config config, trainer_options options)
      : model_(m), config_(std::move(config)), options_(std::move(options)), optimizer_(options_.adamw) {
    if (options_.micro_batches < 1) raise<config_error>("trainer: micro_batches must be >= 1");
    model_.enable_training();
    model_.zero_grad();
    model_.weights.for_each([&](const std::string& name, tensor<float>& w) {
      model_.grads.for_each([&](const std::string& gname, tensor<float>& g) {
        if (gname != name) return;
        const bool decay =
            options_.decay_norms_and_embeddings || !model::llama_weights<float>::is_norm_or_embedding(name);
        optimizer_.add(w, g, decay, name);
        grads_.push_back(g.view());
      });
    });
    check_context_parallel();
    if (ranks() > 1) {
      auto& comm = *options_.parallel.data_parallel;
      const memory_space model_space = model_.memory() != nullptr ? memory_space::device : memory_space::host;
      if (comm.memory() != model_space) {
        raise<config_error>("trainer: the data-parallel communicator (", comm.engine(), ") works in ",
                            name(comm.memory()), " memory, but the model is in ",
                            model_.memory() != nullptr ? model_.memory()->name() : "host", " memory");
      }
      reducer_ = std::make_unique<dist::gradient_reducer<dist::any_communicator, float>>(
          comm, model_.grads, dist::gradient_reducer_options{.overlap = options_.parallel.overlap_gradient_reduction});
    }
  }

  // This trainer's rank and the number of ranks (0 and 1 without data parallelism).
  int rank() const { return options_.parallel.data_parallel ? options_.parallel.data_parallel->rank() : 0; }
  int ranks() const { return options_.parallel.data_parallel ? options_.parallel.data_parallel->size() : 1; }
  // Ranks sharing each sequence (1 without context parallelism).
  int context_ranks() const {
    return options_.parallel.context_parallel ? options_.parallel.context_parallel->size() : 1;
  }

  trainer(const trainer&) = delete;  // the gradient reducer refers to this trainer's communicator
  trainer& operator=(const trainer&) = delete;

  std::int64_t steps_done() const { return step_; }
  rng& data_rng() { return rng_; }
  optim::adamw<float>& optimizer() { return optimizer_; }

  template <Backend B, class BatchFn>
  step_record step(B& be, BatchFn&& batches) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<model::token_batch> micro;
    index_t valid = 0;
    for (index_t k = 0; k < options_.micro_batches; ++k) {
      micro.push_back(batches(step_, k));
      if (ranks() > 1) micro.back() = rank_share(micro.back(), k);
      valid += micro.back().valid_tokens();
    }
    if (ranks() > 1) valid = static_cast<index_t>(sum_over_ranks(static_cast<double>(valid)));
    if (valid == 0) raise<config_error>("trainer: step ", step_ + 1, " has no loss-bearing tokens");
    const context_scope sharded(model_, context_ranks() > 1 ? &*options_.parallel.context_parallel : nullptr);
    model_.zero_grad();
    double loss = 0;
    for (std::size_t k = 0; k < micro.size(); ++k) {
      loss += model_.forward(be, micro[k], static_cast<double>(valid)).loss;
      if (reducer_ && k + 1 == micro.size()) {
        model_.backward(be, 1.0, [&](const model::gradient_ready& r) {
          if constexpr (requires { be.synchronize(); }) be.synchronize();  // the part's gradients are computed
          reducer_->ready(r);
        });
        reducer_->finish();
      } else {
        model_.backward(be);
      }
    }
    if (ranks() > 1) loss = sum_over_ranks(loss);
    step_record r;
    // Clipping is applied by the optimizer as it reads the gradients.
    const optim::grad_norm_clip clip = optim::measure_grad_norm<B, float>(be, grads_, options_.max_grad_norm);
    r.grad_norm = clip.norm;
    r.lr = options_.learning_rate ? options_.learning_rate(step_) : options_.adamw.lr;
    optimizer_.step(be, r.lr, clip.factor);
    ++step_;
    r.step = step_;
    r.loss = loss;
    r.tokens = valid;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!options_.checkpoint_dir.empty() && options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0 &&
        rank() == 0) {
      save();
    }
    return r;
  }

  std::filesystem::path save(nlohmann::json extra = nlohmann::json::object()) {
    if (options_.checkpoint_dir.empty()) raise<config_error>("trainer: no checkpoint directory configured");
    return save_checkpoint(options_.checkpoint_dir, config_, model_.weights, optimizer_,
                           {step_, optimizer_.steps_taken(), rng_.save(), std::move(extra)});
  }

  // Restores the newest checkpoint of the configured directory; false when there is none.
  bool resume() {
    if (options_.checkpoint_dir.empty()) return false;
    const auto dir = latest_checkpoint(options_.checkpoint_dir);
    if (!dir) return false;
    const checkpoint_state s = load_checkpoint(*dir, model_.weights, optimizer_);
    step_ = s.step;
    rng_.restore(s.rng_state);
    return true;
  }

 private:
  // Sets the model's context-parallel communicator for one step.
  struct context_scope {
    context_scope(model::llama<float>& m, dist::any_communicator* comm) : model(m) { model.set_context_parallel(comm); }
    ~context_scope() { model.set_context_parallel(nullptr); }
    context_scope(const context_scope&) = delete;
    context_scope& operator=(const context_scope&) = delete;
    model::llama<float>& model;
  };

  void check_context_parallel() const {
    if (context_ranks() <= 1) return;
    const int p = context_ranks();
    if (!options_.parallel.data_parallel || ranks() % p != 0 ||
        rank() % p != options_.parallel.context_parallel->rank()) {
      raise<config_error>("trainer: context parallelism over ", p,
                          " ranks needs data_parallel to be the communicator of all ranks, with ranks d * ", p,
                          " + p forming data group d (this rank: ", rank(), " of ", ranks(), ", context rank ",
                          options_.parallel.context_parallel->rank(), ")");
    }
  }

  // This rank's share of micro-batch k: its data group's rows, and of each its
  // context rank's zigzag shard.
  model::token_batch rank_share(const model::token_batch& b, index_t k) const {
    const int p = context_ranks(), groups = ranks() / p;
    if (b.batch % groups != 0) {
      raise<config_error>("trainer: ", groups, " data-parallel ranks do not divide the ", b.batch,
                          " sequences of micro-batch ", k, " of step ", step_ + 1);
    }
    const index_t rows = b.batch / groups;
    model::token_batch mine = groups > 1 ? b.rows((rank() / p) * rows, rows) : b;
    if (p == 1) return mine;
    if (b.seq_len % (2 * p) != 0) {
      raise<config_error>("trainer: ", p, " context-parallel ranks need sequence lengths that are multiples of ", 2 * p,
                          "; micro-batch ", k, " of step ", step_ + 1, " has ", b.seq_len, " tokens");
    }
    return model::context_shard(mine, options_.parallel.context_parallel->rank(), p);
  }
  // The sum of x over all ranks (through the model's memory for a device communicator).
  double sum_over_ranks(double x) {
    auto& comm = *options_.parallel.data_parallel;
    if (comm.memory() == memory_space::host) {
      comm.all_reduce_sum(std::span<double>(&x, 1));
      return x;
    }
    tensor<double> staged = tensor<double>(shape{1}, std::vector<double>{x}).to(model_.memory());
    comm.all_reduce_sum(std::span<double>(staged.data(), 1));
    return staged.to_host()(0);
  }

  model::llama<float>& model_;
  model::hf_config config_;
  trainer_options options_;
  optim::adamw<float> optimizer_;
  std::vector<tensor_view<float>> grads_;
  std::unique_ptr<dist::gradient_reducer<dist::any_communicator, float>> reducer_;
  std::int64_t step_ = 0;
  rng rng_{0x5eed};
};

}  // namespace lsk::train

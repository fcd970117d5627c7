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
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <vector>

#include "lsk/model/llama.hpp"
#include "lsk/optim/adamw.hpp"
#include "lsk/optim/grad_clip.hpp"
#include "lsk/train/checkpoint.hpp"

namespace lsk::train {

struct trainer_options {
  index_t micro_batches = 1;
  double max_grad_norm = 1.0;  // <= 0: no clipping
  optim::adamw_options adamw{};
  bool decay_norms_and_embeddings = false;
  std::function<double(std::int64_t step)> learning_rate;  // empty: adamw.lr
  std::filesystem::path checkpoint_dir;                    // empty: no checkpoints
  std::int64_t checkpoint_every = 0;                       // 0: only when asked
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
        optimizer_.add(w.view(), g.view(), decay, name);
        grads_.push_back(g.view());
      });
    });
  }

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
      valid += micro.back().valid_tokens();
    }
    if (valid == 0) raise<config_error>("trainer: step ", step_ + 1, " has no loss-bearing tokens");
    model_.zero_grad();
    double loss = 0;
    for (const auto& b : micro) {
      loss += model_.forward(be, b, static_cast<double>(valid)).loss;
      model_.backward(be);
    }
    step_record r;
    r.grad_norm = optim::clip_grad_norm<B, float>(be, grads_, options_.max_grad_norm);
    r.lr = options_.learning_rate ? options_.learning_rate(step_) : options_.adamw.lr;
    optimizer_.step(r.lr);
    ++step_;
    r.step = step_;
    r.loss = loss;
    r.tokens = valid;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!options_.checkpoint_dir.empty() && options_.checkpoint_every > 0 && step_ % options_.checkpoint_every == 0) {
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
  model::llama<float>& model_;
  model::hf_config config_;
  trainer_options options_;
  optim::adamw<float> optimizer_;
  std::vector<tensor_view<float>> grads_;
  std::int64_t step_ = 0;
  rng rng_{0x5eed};
};

}  // namespace lsk::train

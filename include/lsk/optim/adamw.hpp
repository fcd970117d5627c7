// lsk/optim/adamw.hpp: AdamW with bias correction and decoupled weight decay.
//
// Algorithm (Loshchilov & Hutter; the same update as torch.optim.AdamW):
//   p <- p - lr * weight_decay * p                    (decoupled decay, if the group decays)
//   m <- beta1 * m + (1 - beta1) * g
//   v <- beta2 * v + (1 - beta2) * g^2
//   p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// Numerics: state and update in the parameter's precision (f32 master weights);
// bias corrections computed in double. The update of each parameter is one
// backend op (lsk/ops/adamw_update.hpp), so moments live in the parameters'
// memory (host or a device's) and step(be, lr) runs where the weights are.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lsk/core/error.hpp"
#include "lsk/core/tensor.hpp"
#include "lsk/ops/adamw_update.hpp"

namespace lsk::optim {

struct adamw_options {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
};

template <class T>
class adamw {
 public:
  explicit adamw(adamw_options options) : options_(options) {
    if (!(options.lr >= 0) || !(options.beta1 >= 0 && options.beta1 < 1) ||
        !(options.beta2 >= 0 && options.beta2 < 1) || !(options.eps > 0) || !(options.weight_decay >= 0)) {
      raise<config_error>("adamw: invalid options (lr ", options.lr, ", betas ", options.beta1, "/", options.beta2,
                          ", eps ", options.eps, ", weight_decay ", options.weight_decay, ")");
    }
  }

  // Registers a parameter and its gradient; decay = false exempts it from
  // weight decay. `name` identifies its moments in a checkpoint. The moments
  // are allocated in `memory`, which must be the parameter's (nullptr: host).
  void add(tensor_view<T> param, tensor_view<const T> grad, bool decay = true, std::string name = {},
           device_memory* memory = nullptr) {
    if (!(param.extents() == grad.extents())) {
      raise<shape_error>("adamw: parameter ", name, " ", param.extents().str(), " and gradient ", grad.extents().str(),
                         " differ");
    }
    if (name.empty()) name = "param" + std::to_string(groups_.size());
    groups_.push_back(
        {std::move(name), param, grad, tensor<T>(param.extents(), memory), tensor<T>(param.extents(), memory), decay});
  }
  // A parameter tensor and its gradient, in the parameter's memory.
  void add(tensor<T>& param, const tensor<T>& grad, bool decay = true, std::string name = {}) {
    add(param.view(), grad.view(), decay, std::move(name), param.memory());
  }

  // The moments of every parameter, for checkpoints: fn(name, m, v) with the
  // tensors in the parameter's memory.
  template <class Fn>
  void for_each_moment(Fn&& fn) {
    for (auto& g : groups_) fn(g.name, g.m, g.v);
  }
  // Restores the step count after loading the moments.
  void set_steps_taken(std::int64_t t) {
    if (t < 0) raise<config_error>("adamw: negative step count ", t);
    t_ = t;
  }

  // One update with learning rate lr (defaults to the configured one), on
  // backend be, whose memory must hold the parameters; the gradients are read
  // multiplied by grad_scale (a clipping factor: lsk/optim/grad_clip.hpp).
  template <Backend B>
  void step(B& be, double lr = -1.0, double grad_scale = 1.0) {
    if (lr < 0) lr = options_.lr;
    ++t_;
    const double c1 = 1.0 - std::pow(options_.beta1, static_cast<double>(t_));
    const double c2 = 1.0 - std::pow(options_.beta2, static_cast<double>(t_));
    adamw_coefficients<T> c{};
    c.beta1 = static_cast<T>(options_.beta1);
    c.beta2 = static_cast<T>(options_.beta2);
    c.step_size = static_cast<T>(lr / c1);
    c.inv_sqrt_c2 = static_cast<T>(1.0 / std::sqrt(c2));
    c.eps = static_cast<T>(options_.eps);
    c.grad_scale = static_cast<T>(grad_scale);
    for (auto& g : groups_) {
      c.decay_factor = static_cast<T>(g.decay ? 1.0 - lr * options_.weight_decay : 1.0);
      adamw_update<B, T>(be, g.param, g.grad, g.m.view(), g.v.view(), c);
    }
  }

  std::int64_t steps_taken() const { return t_; }
  const adamw_options& options() const { return options_; }

 private:
  struct group {
    std::string name;
    tensor_view<T> param;
    tensor_view<const T> grad;
    tensor<T> m, v;
    bool decay;
  };
  adamw_options options_;
  std::vector<group> groups_;
  std::int64_t t_ = 0;
};

}  // namespace lsk::optim

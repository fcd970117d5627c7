// lsk/optim/adamw.hpp: AdamW with bias correction and decoupled weight decay.
//
// Algorithm (Loshchilov & Hutter; the same update as torch.optim.AdamW):
//   p <- p - lr * weight_decay * p                    (decoupled decay, if the group decays)
//   m <- beta1 * m + (1 - beta1) * g
//   v <- beta2 * v + (1 - beta2) * g^2
//   p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// Numerics: state and update in the parameter's precision (f32 master weights);
// bias corrections computed in double. Host memory only for now.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lsk/core/error.hpp"
#include "lsk/core/tensor.hpp"

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
  // weight decay. `name` identifies its moments in a checkpoint.
  void add(tensor_view<T> param, tensor_view<const T> grad, bool decay = true, std::string name = {}) {
    if (!(param.extents() == grad.extents())) {
      raise<shape_error>("adamw: parameter ", name, " ", param.extents().str(), " and gradient ", grad.extents().str(),
                         " differ");
    }
    if (name.empty()) name = "param" + std::to_string(groups_.size());
    groups_.push_back({std::move(name), param.extents(), param.span(), grad.span(),
                       std::vector<T>(param.span().size(), T(0)), std::vector<T>(param.span().size(), T(0)), decay});
  }

  // The moments of every parameter, for checkpoints: fn(name, extents, m, v).
  template <class Fn>
  void for_each_moment(Fn&& fn) {
    for (auto& g : groups_) fn(g.name, g.extents, std::span<T>(g.m), std::span<T>(g.v));
  }
  // Restores the step count after loading the moments.
  void set_steps_taken(std::int64_t t) {
    if (t < 0) raise<config_error>("adamw: negative step count ", t);
    t_ = t;
  }

  // One update with learning rate lr (defaults to the configured one).
  void step(double lr = -1.0) {
    if (lr < 0) lr = options_.lr;
    ++t_;
    const double c1 = 1.0 - std::pow(options_.beta1, static_cast<double>(t_));
    const double c2 = 1.0 - std::pow(options_.beta2, static_cast<double>(t_));
    const T b1 = static_cast<T>(options_.beta1), b2 = static_cast<T>(options_.beta2);
    const T step_size = static_cast<T>(lr / c1);
    const T inv_sqrt_c2 = static_cast<T>(1.0 / std::sqrt(c2));
    const T eps = static_cast<T>(options_.eps);
    for (auto& g : groups_) {
      const T decay_factor = static_cast<T>(g.decay ? 1.0 - lr * options_.weight_decay : 1.0);
      for (std::size_t i = 0; i < g.param.size(); ++i) {
        const T grad = g.grad[i];
        g.m[i] = b1 * g.m[i] + (T(1) - b1) * grad;
        g.v[i] = b2 * g.v[i] + (T(1) - b2) * grad * grad;
        g.param[i] = g.param[i] * decay_factor - step_size * g.m[i] / (std::sqrt(g.v[i]) * inv_sqrt_c2 + eps);
      }
    }
  }

  std::int64_t steps_taken() const { return t_; }
  const adamw_options& options() const { return options_; }

 private:
  struct group {
    std::string name;
    shape extents;
    std::span<T> param;
    std::span<const T> grad;
    std::vector<T> m, v;
    bool decay;
  };
  adamw_options options_;
  std::vector<group> groups_;
  std::int64_t t_ = 0;
};

}  // namespace lsk::optim

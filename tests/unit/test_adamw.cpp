// AdamW against a scalar double-precision transcription of the update rule,
// over several steps, with a decayed and an exempt parameter group.
#include <cmath>

#include <catch2/catch.hpp>

#include "lsk/backends/reference/backend.hpp"
#include "lsk/core/rng.hpp"
#include "lsk/optim/adamw.hpp"

namespace {
struct scalar_adamw {
  double p, m = 0, v = 0;
  void step(double g, int t, const lsk::optim::adamw_options& o, bool decay, double lr) {
    if (decay) p -= lr * o.weight_decay * p;
    m = o.beta1 * m + (1 - o.beta1) * g;
    v = o.beta2 * v + (1 - o.beta2) * g * g;
    const double mhat = m / (1 - std::pow(o.beta1, t)), vhat = v / (1 - std::pow(o.beta2, t));
    p -= lr * mhat / (std::sqrt(vhat) + o.eps);
  }
};
}  // namespace

TEST_CASE("adamw follows the update rule step by step", "[optim]") {
  const lsk::optim::adamw_options o{.lr = 0.05, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6, .weight_decay = 0.1};
  lsk::rng g(9);
  lsk::tensor<double> w(lsk::shape{5}), b(lsk::shape{3}), gw(lsk::shape{5}), gb(lsk::shape{3});
  for (auto& x : w.values()) x = g.normal();
  for (auto& x : b.values()) x = g.normal();
  std::vector<scalar_adamw> sw, sb;
  for (double x : w.values()) sw.push_back({x});
  for (double x : b.values()) sb.push_back({x});
  lsk::optim::adamw<double> opt(o);
  lsk::backends::reference be;
  opt.add(w.view(), gw.view(), true);
  opt.add(b.view(), gb.view(), false);
  for (int t = 1; t <= 6; ++t) {
    const double lr = t == 4 ? 0.01 : o.lr;  // a scheduled learning rate
    for (auto& x : gw.values()) x = g.normal();
    for (auto& x : gb.values()) x = g.normal();
    opt.step(be, lr);
    for (std::size_t i = 0; i < sw.size(); ++i) sw[i].step(gw.values()[i], t, o, true, lr);
    for (std::size_t i = 0; i < sb.size(); ++i) sb[i].step(gb.values()[i], t, o, false, lr);
    for (std::size_t i = 0; i < sw.size(); ++i) REQUIRE(w.values()[i] == Approx(sw[i].p).epsilon(1e-12));
    for (std::size_t i = 0; i < sb.size(); ++i) REQUIRE(b.values()[i] == Approx(sb[i].p).epsilon(1e-12));
  }
  CHECK(opt.steps_taken() == 6);
}

TEST_CASE("adamw rejects invalid options and mismatched gradients", "[optim][errors]") {
  CHECK_THROWS_AS(lsk::optim::adamw<float>({.lr = 1e-3, .beta1 = 1.0}), lsk::config_error);
  CHECK_THROWS_AS(lsk::optim::adamw<float>({.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.99, .eps = 0.0}), lsk::config_error);
  lsk::optim::adamw<float> opt({});
  lsk::tensor<float> p(lsk::shape{3}), grad(lsk::shape{4});
  CHECK_THROWS_AS(opt.add(p.view(), grad.view()), lsk::shape_error);
}

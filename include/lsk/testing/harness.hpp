// lsk/testing/harness.hpp: the drivers that run an op case (op_cases.hpp)
// against the reference backend and against finite differences. Framework
// free: each returns a report; conformance.hpp turns reports into Catch2 tests.
//
// conformance_check<Case>(be, dtype T): for every trial, the backend's outputs
// and gradients must match the reference backend's within Case::tol_f32 /
// tol_f64 (scaled_max_error). Outputs start as NaN, so unwritten elements fail;
// gradients that accumulate start from the same random tensor on both sides.
// gradient_check<Case>(be): in f64, the backend's backward must match central
// differences of its own forward, L = sum_o <dout_o, out_o>, step h = 1e-5,
// on up to 24 elements per input, within 1e-6 of the gradient's scale plus the
// rounding error of the difference quotient (16 eps |L| / h).
// Device-memory backends run both checks through staged<B> (staging.hpp): the
// same cases, with every op's arguments copied to the device and back.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <limits>
#include <sstream>
#include <string>

#include "lsk/backends/reference/backend.hpp"
#include "lsk/testing/compare.hpp"
#include "lsk/testing/op_cases.hpp"
#include "lsk/testing/staging.hpp"

namespace lsk::testing {

struct check_report {
  enum class status { passed, failed, skipped } result = status::passed;
  std::string message;  // what failed (or why skipped), with op, backend, dtype, trial and sizes
  int checks = 0;       // tensors compared
  bool passed() const { return result != status::failed; }
};

namespace detail {

template <class T>
std::string describe(const tensors<T>& in) {
  std::string s;
  for (const auto& t : in) s += t.extents().str() + " ";
  return s;
}

// Gradient buffers: random where the op accumulates (returned in start), NaN elsewhere.
template <class Case, class T>
tensors<T> gradient_buffers(const tensors<T>& in, rng& g, tensors<T>& start) {
  tensors<T> grads;
  start.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (Case::accumulates(i)) {
      start.push_back(random_tensor<T>(g, in[i].extents()));
      grads.push_back(start.back());
    } else {
      start.push_back(tensor<T>(in[i].extents()));
      grads.push_back(poisoned<T>(in[i].extents()));
    }
  }
  return grads;
}

template <class T>
tensors<T> output_weights(rng& g, const tensors<T>& out, int count) {
  tensors<T> w;
  for (int o = 0; o < count; ++o) w.push_back(random_tensor<T>(g, out[static_cast<std::size_t>(o)].extents()));
  return w;
}

template <class T>
double weighted_sum(const tensors<T>& out, const tensors<T>& w) {
  double s = 0.0;
  for (std::size_t o = 0; o < w.size(); ++o)
    for (std::size_t i = 0; i < w[o].values().size(); ++i) s += double(out[o].values()[i]) * double(w[o].values()[i]);
  return s;
}

}  // namespace detail

// Why backend B cannot run on this machine, or "" when it can. A backend type
// may tell with a static member `std::string unavailable()` (a device backend
// on a machine without that device); the suite then skips its tests.
template <class B>
std::string unavailable_reason() {
  if constexpr (requires {
                  { B::unavailable() } -> std::convertible_to<std::string>;
                }) {
    return std::string(B::unavailable());
  } else {
    return {};
  }
}

template <template <class> class Case, real_scalar T, Backend B>
check_report conformance_check(B& be, std::uint64_t seed = 2024) {
  using C = Case<T>;
  constexpr double tol = std::is_same_v<T, float> ? C::tol_f32 : C::tol_f64;
  check_report report;
  backends::reference ref;
  for (int trial = 0; trial < C::trials; ++trial) {
    rng g(seed, static_cast<std::uint64_t>(trial));
    const C op(g, trial);
    const tensors<T> in = op.inputs(g);
    auto fail = [&](const std::string& what, double err) {
      std::ostringstream msg;
      msg << C::name << " on " << B::name << " (" << name(dtype_of<T>) << "), trial " << trial << ", inputs "
          << detail::describe(in) << ": " << what << " differs from reference by " << err << " (tolerance " << tol
          << ")";
      report.result = check_report::status::failed;
      report.message = msg.str();
      return report;
    };
    tensors<T> expected, actual;
    try {
      expected = op.forward(ref, in);
      actual = op.forward(be, in);
    } catch (const unsupported_error& e) {
      return {check_report::status::skipped, e.what(), report.checks};
    }
    for (std::size_t o = 0; o < expected.size(); ++o) {
      if (!has_nonzero(expected[o]) && expected[o].numel() > 0) return fail("output (reference all zero)", 0.0);
      const double err = scaled_max_error(actual[o], expected[o]);
      ++report.checks;
      if (!(err <= tol)) return fail("output " + std::to_string(o), err);
    }
    if (!C::has_backward) continue;
    const tensors<T> dout = detail::output_weights(g, expected, C::grad_outputs);
    tensors<T> start;
    tensors<T> grad_expected = detail::gradient_buffers<C>(in, g, start);
    tensors<T> grad_actual = grad_expected;
    op.backward(ref, in, dout, grad_expected);
    op.backward(be, in, dout, grad_actual);
    for (std::size_t i = 0; i < in.size(); ++i) {
      const double err = scaled_max_error(grad_actual[i], grad_expected[i]);
      ++report.checks;
      if (!(err <= tol)) return fail("gradient of input " + std::to_string(i), err);
    }
  }
  return report;
}

template <template <class> class Case, Backend B>
check_report gradient_check(B& be, std::uint64_t seed = 7) {
  using C = Case<double>;
  check_report report;
  if constexpr (!backend_for<B, double>) {
    return {check_report::status::skipped, std::string(B::name) + " has no f64 ops", 0};
  } else {
    if (!C::has_backward) return {check_report::status::skipped, std::string(C::name) + " has no gradient", 0};
    constexpr double h = 1e-5, tol = 1e-6;
    constexpr int samples_per_input = 24;
    for (int trial = 0; trial < C::trials; ++trial) {
      rng g(seed, static_cast<std::uint64_t>(trial));
      const C op(g, trial);
      tensors<double> in = op.inputs(g);
      tensors<double> out;
      try {
        out = op.forward(be, in);
      } catch (const unsupported_error& e) {
        return {check_report::status::skipped, e.what(), report.checks};
      }
      const tensors<double> dout = detail::output_weights(g, out, C::grad_outputs);
      tensors<double> start;
      tensors<double> grads = detail::gradient_buffers<C>(in, g, start);
      op.backward(be, in, dout, grads);
      for (std::size_t i = 0; i < in.size(); ++i) {
        auto& x = in[i].values();
        const auto& analytic = grads[i].values();
        double scale = 1e-12;
        for (std::size_t j = 0; j < x.size(); ++j)
          scale = std::max(scale, std::abs(analytic[j] - start[i].values()[j]));
        const std::size_t n = x.size();
        const std::size_t count = std::min<std::size_t>(n, samples_per_input);
        for (std::size_t s = 0; s < count; ++s) {
          const std::size_t j = n <= samples_per_input ? s : g.below(static_cast<std::uint32_t>(n));
          const double saved = x[j];
          x[j] = saved + h;
          const double up = detail::weighted_sum(op.forward(be, in), dout);
          x[j] = saved - h;
          const double down = detail::weighted_sum(op.forward(be, in), dout);
          x[j] = saved;
          const double numeric = (up - down) / (2 * h);
          const double got = analytic[j] - start[i].values()[j];
          ++report.checks;
          const double rounding =
              16 * std::numeric_limits<double>::epsilon() * std::max(std::abs(up), std::abs(down)) / h;
          if (!(std::abs(numeric - got) <= tol * scale + rounding)) {
            std::ostringstream msg;
            msg << C::name << " on " << B::name << " (f64), trial " << trial << ", inputs " << detail::describe(in)
                << ": d/d input " << i << "[" << j << "] backward " << got << " vs finite difference " << numeric
                << " (gradient scale " << scale << ")";
            return {check_report::status::failed, msg.str(), report.checks};
          }
        }
      }
    }
    return report;
  }
}

// Device-memory backends: the same checks on host tensors staged to the device
// for every op (more constrained than the overloads above, so chosen for them).
template <template <class> class Case, real_scalar T, Backend B>
requires(B::memory == memory_space::device) check_report conformance_check(B& be, std::uint64_t seed = 2024) {
  staged<B> host_side(be);
  return conformance_check<Case, T>(host_side, seed);
}

template <template <class> class Case, Backend B>
requires(B::memory == memory_space::device) check_report gradient_check(B& be, std::uint64_t seed = 7) {
  staged<B> host_side(be);
  return gradient_check<Case>(host_side, seed);
}

}  // namespace lsk::testing

// lsk/recipe/progress.hpp: a progress display for training loops. On a
// terminal it redraws one line (bar, step, loss, tokens/s, ETA); otherwise it
// prints a plain line every `every` steps and at the end, so logs stay readable.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <string>

namespace lsk::recipe {

class progress_line {
 public:
  progress_line(std::string label, std::int64_t total, std::FILE* out = stdout)
      : label_(std::move(label)), total_(total), out_(out), tty_(out != nullptr && ::isatty(::fileno(out)) == 1) {
    every_ = std::max<std::int64_t>(1, total / 10);
  }

  // Writes nothing when constructed with a null `out`.
  void update(std::int64_t step, double loss, double lr, double tokens_per_second, double elapsed_seconds) {
    if (out_ == nullptr) return;
    const double eta = step > 0 ? elapsed_seconds / double(step) * double(total_ - step) : 0.0;
    if (tty_) {
      constexpr int width = 24;
      const int filled = static_cast<int>(width * double(step) / double(std::max<std::int64_t>(total_, 1)));
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar.resize(width, '.');
      std::fprintf(out_, "\r%-12s [%s] %lld/%lld loss %.4f lr %.2e %.0f tok/s ETA %s   ", label_.c_str(), bar.c_str(),
                   static_cast<long long>(step), static_cast<long long>(total_), loss, lr, tokens_per_second,
                   duration(eta).c_str());
      if (step == total_) std::fputc('\n', out_);
    } else if (step % every_ == 0 || step == total_ || step == 1) {
      std::fprintf(out_, "%s step %lld/%lld loss %.4f lr %.2e %.0f tok/s elapsed %s ETA %s\n", label_.c_str(),
                   static_cast<long long>(step), static_cast<long long>(total_), loss, lr, tokens_per_second,
                   duration(elapsed_seconds).c_str(), duration(eta).c_str());
    }
    std::fflush(out_);
  }

  static std::string duration(double seconds) {
    const auto s = static_cast<long long>(seconds + 0.5);
    char buffer[32];
    if (s >= 3600) {
      std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", s / 3600, (s / 60) % 60);
    } else {
      std::snprintf(buffer, sizeof buffer, "%lldm%02llds", s / 60, s % 60);
    }
    return buffer;
  }

 private:
  std::string label_;
  std::int64_t total_, every_;
  std::FILE* out_;
  bool tty_;
};

}  // namespace lsk::recipe

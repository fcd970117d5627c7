// lsk/eval/heatmap.hpp: the needle-in-a-haystack heatmap as a standalone SVG.
//
// Rows are needle depths (0% at the top), columns context lengths; each cell is
// coloured from red (0) through yellow to green (1) and labelled with its
// accuracy in percent; empty cells are grey. Written atomically.
#pragma once

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>

#include "lsk/eval/needle_score.hpp"
#include "lsk/io/atomic_write.hpp"

namespace lsk::eval {

inline std::string heat_colour(double v) {
  if (v < 0) return "#dddddd";
  v = std::clamp(v, 0.0, 1.0);
  // red (215,48,39) -> yellow (254,224,139) -> green (26,152,80)
  auto mix = [](double a, double b, double t) { return static_cast<int>(a + (b - a) * t + 0.5); };
  int r, g, b;
  if (v < 0.5) {
    r = mix(215, 254, v * 2), g = mix(48, 224, v * 2), b = mix(39, 139, v * 2);
  } else {
    r = mix(254, 26, v * 2 - 1), g = mix(224, 152, v * 2 - 1), b = mix(139, 80, v * 2 - 1);
  }
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", r, g, b);
  return buffer;
}

inline std::string needle_heatmap_svg(const needle_grid& grid, const std::string& title) {
  const auto lengths = grid.lengths();
  const auto depths = grid.depths();
  const int cell_w = 64, cell_h = 30, left = 70, top = 50;
  const int width = left + cell_w * static_cast<int>(lengths.size()) + 20;
  const int height = top + cell_h * static_cast<int>(depths.size()) + 50;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << title << "</text>\n";
  for (std::size_t r = 0; r < depths.size(); ++r) {
    const int y = top + cell_h * static_cast<int>(r);
    svg << "<text x=\"" << left - 6 << "\" y=\"" << y + cell_h / 2 + 4 << "\" text-anchor=\"end\">" << depths[r]
        << "%</text>\n";
    for (std::size_t c = 0; c < lengths.size(); ++c) {
      const int x = left + cell_w * static_cast<int>(c);
      const double acc = grid.accuracy(lengths[c], depths[r]);
      svg << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cell_w << "\" height=\"" << cell_h << "\" fill=\""
          << heat_colour(acc) << "\" stroke=\"white\"/>";
      if (acc >= 0) {
        svg << "<text x=\"" << x + cell_w / 2 << "\" y=\"" << y + cell_h / 2 + 4 << "\" text-anchor=\"middle\">"
            << static_cast<int>(acc * 100 + 0.5) << "</text>";
      }
      svg << "\n";
    }
  }
  const int axis_y = top + cell_h * static_cast<int>(depths.size()) + 18;
  for (std::size_t c = 0; c < lengths.size(); ++c) {
    svg << "<text x=\"" << left + cell_w * static_cast<int>(c) + cell_w / 2 << "\" y=\"" << axis_y
        << "\" text-anchor=\"middle\">" << lengths[c] << "</text>\n";
  }
  svg << "<text x=\"" << left + cell_w * static_cast<int>(lengths.size()) / 2 << "\" y=\"" << axis_y + 20
      << "\" text-anchor=\"middle\">context length (tokens); rows: needle depth; cells: exact match %</text>\n"
      << "</svg>\n";
  return svg.str();
}

inline void write_needle_heatmap(const std::filesystem::path& path, const needle_grid& grid, const std::string& title) {
  const std::string svg = needle_heatmap_svg(grid, title);
  io::atomic_write(path, [&](io::atomic_file& f) { f.write(svg); });
}

// The grid as text: one row per depth, one column per length, percent correct.
inline std::string needle_grid_text(const needle_grid& grid) {
  std::ostringstream out;
  out << "depth\\len";
  for (auto l : grid.lengths()) out << '\t' << l;
  out << '\n';
  for (double d : grid.depths()) {
    out << d << '%';
    for (auto l : grid.lengths()) {
      const double a = grid.accuracy(l, d);
      out << '\t' << (a < 0 ? std::string("-") : std::to_string(static_cast<int>(a * 100 + 0.5)));
    }
    out << '\n';
  }
  return out.str();
}

}  // namespace lsk::eval

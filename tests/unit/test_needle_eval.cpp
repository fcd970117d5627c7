#include <catch2/catch.hpp>

#include "lsk/eval/heatmap.hpp"

TEST_CASE("exact match on hand-made answers", "[eval]") {
  using lsk::eval::exact_match;
  CHECK(exact_match("7314", "7314"));
  CHECK(exact_match(" 7314.", "7314"));
  CHECK(exact_match("7314 is the code", "7314"));
  CHECK(exact_match("\n7314\"", " 7314 "));
  CHECK_FALSE(exact_match("73145", "7314"));
  CHECK_FALSE(exact_match("7314-2", "7314"));
  CHECK_FALSE(exact_match("the code is 7314", "7314"));
  CHECK_FALSE(exact_match("731", "7314"));
  CHECK_FALSE(exact_match("anything", ""));
  CHECK(exact_match("blue whale, said", "blue whale"));
}

TEST_CASE("needle grid accuracy, means and heatmap", "[eval]") {
  lsk::eval::needle_grid g;
  g.add(128, 0, true);
  g.add(128, 0, false);
  g.add(128, 50, true);
  g.add(1024, 0, false);
  g.add(1024, 50, false);
  CHECK(g.accuracy(128, 0) == Approx(0.5));
  CHECK(g.accuracy(128, 50) == Approx(1.0));
  CHECK(g.accuracy(1024, 100) == -1.0);
  CHECK(g.mean() == Approx(0.4));
  CHECK(g.mean(0, 128) == Approx(2.0 / 3.0));
  CHECK(g.lengths() == std::vector<long long>{128, 1024});
  const std::string svg = lsk::eval::needle_heatmap_svg(g, "test");
  CHECK(svg.find("<svg") == 0);
  CHECK(svg.find(">50</text>") != std::string::npos);
  CHECK(svg.find(">100</text>") != std::string::npos);
  CHECK(lsk::eval::heat_colour(0.0) == "#d73027");
  CHECK(lsk::eval::heat_colour(1.0) == "#1a9850");
  const std::string text = lsk::eval::needle_grid_text(g);
  CHECK(text.find("0%\t50\t0") != std::string::npos);
}

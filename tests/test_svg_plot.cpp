// The SVG charts: self-contained, well-formed enough to hold every label, legend entry and value.
#include <catch2/catch.hpp>
#include <string>

#include "typenet/io/svg_plot.hpp"

using namespace typenet;
using Catch::Matchers::Contains;

namespace {
std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("a line chart has its title, axes, ticks, one line and legend entry per series") {
  const std::string svg = line_chart_svg({.title = "Accuracy & <loss>",
                                          .x_label = "epoch",
                                          .y_label = "accuracy (%)",
                                          .x = {1, 2, 3},
                                          .series = {{"train", {70, 80, 85}}, {"test", {68, 77, 81}}}});
  REQUIRE(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  REQUIRE_THAT(svg, Contains("</svg>"));
  REQUIRE_THAT(svg, Contains("Accuracy &amp; &lt;loss&gt;"));  // escaped
  REQUIRE_THAT(
      svg, Contains(">epoch<") && Contains(">accuracy (%)<") && Contains(">train<") && Contains(">test<"));
  REQUIRE(count(svg, "<polyline") == 2);
  REQUIRE(count(svg, "<circle") == 6);
  REQUIRE_THAT(svg, Contains(">1<") && Contains(">2<") && Contains(">3<"));  // whole-epoch ticks
  REQUIRE_THAT(svg, Contains(">70<") && Contains(">85<"));
  REQUIRE_FALSE(svg.find("href") != std::string::npos);  // nothing external
  REQUIRE_FALSE(svg.find("<script") != std::string::npos);
}

TEST_CASE("a one-epoch chart still has a visible point") {
  const std::string svg =
      line_chart_svg({.title = "t", .x_label = "x", .y_label = "y", .x = {1}, .series = {{"loss", {0.5}}}});
  REQUIRE(count(svg, "<circle") == 1);
  REQUIRE(svg.find("nan") == std::string::npos);
  REQUIRE(svg.find("inf") == std::string::npos);
}

TEST_CASE("a log-scale line chart has a tick per decade and leaves out values it cannot draw") {
  const std::string svg =
      line_chart_svg({.title = "gradient norms",
                      .x_label = "layer",
                      .y_label = "norm",
                      .x = {1, 2, 3},
                      .series = {{"sigmoid", {1e-4, 3e-2, 0.0}}, {"relu", {1.0, 2.0, 1.5}}},
                      .log_y = true});
  REQUIRE_THAT(svg, Contains(">1e-4<") && Contains(">1e-2<") && Contains(">1e0<") && Contains(">1e1<"));
  REQUIRE(count(svg, "<circle") == 5);  // 0 has no logarithm
  REQUIRE(svg.find("nan") == std::string::npos);
  // The axis runs from 1e-4 (the bottom, y 360) to 1e1 (the top, y 50) in even decades: 1 is at 4/5 of it.
  REQUIRE_THAT(svg, Contains("cy=\"360\"") && Contains("cy=\"112\""));
}

TEST_CASE("a bar chart has one bar and one value label per layer") {
  BarChart chart;
  chart.title = "Gradient Flow Through Layers";
  chart.x_label = "Dense layer";
  chart.y_label = "||dL/dz||";
  chart.categories = {"layer 1", "layer 2", "layer 3"};
  chart.values = {0.0123, 0.0456, 0.25};
  chart.legend = "mean norm";
  const std::string svg = bar_chart_svg(chart);
  REQUIRE_THAT(svg, Contains("Gradient Flow Through Layers"));
  REQUIRE_THAT(svg, Contains(">0.0123<") && Contains(">0.0456<") && Contains(">0.25<"));
  REQUIRE_THAT(svg, Contains(">layer 1<") && Contains(">layer 3<") && Contains(">mean norm<"));
  REQUIRE(count(svg, "<rect") == 2 + 3 + 1);  // background, frame, bars, legend swatch
}

TEST_CASE("write_text_file reports a path it cannot create") {
  REQUIRE_THROWS_WITH(write_text_file("no-such-dir/x.svg", "<svg/>"),
                      Contains("no-such-dir/x.svg: cannot create"));
  REQUIRE_THROWS_AS(write_text_file("no-such-dir/x.svg", "<svg/>"), typenet::Error);
}

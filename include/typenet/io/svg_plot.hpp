// Self-contained SVG charts (no scripts, fonts or other files needed): line charts of per-epoch metrics and
// a bar chart of per-layer gradient norms (seed 000 §4.3.6, "Gradient Flow Through Layers").
//
//   typenet::LineChart chart{.title = "Loss", .x_label = "epoch", .y_label = "cross-entropy",
//                            .x = {1, 2, 3}, .series = {{"train loss", {0.6, 0.45, 0.41}}}};
//   typenet::write_text_file("loss.svg", typenet::line_chart_svg(chart));
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "typenet/core/error.hpp"

namespace typenet {

struct PlotSeries {
  std::string name;
  std::vector<double> values;  // one per x
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<double> x;
  std::vector<PlotSeries> series;
  bool integer_x = true;  // epochs: no ticks between whole numbers
  bool log_y = false;     // a log10 y axis with a tick per decade (values <= 0 are left out)
};

struct BarChart {
  std::string title, x_label, y_label;
  std::vector<std::string> categories;
  std::vector<double> values;
  std::string legend;  // what the bars measure; no legend when empty
};

namespace detail {

inline constexpr const char* plot_colors[] = {"#1f77b4", "#d62728", "#2ca02c",
                                              "#ff7f0e", "#9467bd", "#8c564b"};
inline constexpr double plot_width = 720, plot_height = 420;
inline constexpr double margin_left = 80, margin_right = 170, margin_top = 50, margin_bottom = 60;

inline std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

inline std::string format_number(double v, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, v);
  return buffer;
}

// Three significant digits, for the value labels on bars.
inline std::string format_value(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.3g", v);
  return buffer;
}

// Tick positions covering [lo, hi] at a step of 1, 2 or 5 times a power of ten.
struct Ticks {
  std::vector<double> values;
  int decimals = 0;
};

inline Ticks nice_ticks(double lo, double hi, double min_step = 0) {
  if (!(hi > lo)) {  // one value (or none): widen around it
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / 5;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * power >= raw) {
      step = m * power;
      break;
    }
  step = std::max(step, min_step);
  Ticks ticks;
  ticks.decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
  const double first = std::floor(lo / step + 1e-9) * step;
  for (double v = first; v <= hi + step * 0.999; v += step) ticks.values.push_back(v);
  return ticks;
}

inline void svg_open(std::ostringstream& out, const std::string& title) {
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << plot_width << "\" height=\"" << plot_height
      << "\" viewBox=\"0 0 " << plot_width << ' ' << plot_height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << (margin_left + (plot_width - margin_left - margin_right) / 2) << "\" y=\"28\" "
      << "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">" << xml_escape(title) << "</text>\n";
}

// The frame, the y grid with tick labels, and both axis labels.
// log_labels: the ticks are decades, labelled 1e-4, 1e0, 1e2.
inline void svg_axes(std::ostringstream& out, const Ticks& y, double y_lo, double y_hi,
                     const std::string& x_label, const std::string& y_label, bool log_labels = false) {
  const double left = margin_left, right = plot_width - margin_right, top = margin_top,
               bottom = plot_height - margin_bottom;
  for (double v : y.values) {
    const double py = bottom - (v - y_lo) / (y_hi - y_lo) * (bottom - top);
    out << "<line x1=\"" << left << "\" y1=\"" << py << "\" x2=\"" << right << "\" y2=\"" << py
        << "\" stroke=\"#dddddd\"/>\n"
        << "<text x=\"" << left - 8 << "\" y=\"" << py + 4 << "\" text-anchor=\"end\">"
        << (log_labels ? "1e" + std::to_string(int(std::lround(v))) : format_number(v, y.decimals))
        << "</text>\n";
  }
  out << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << right - left << "\" height=\""
      << bottom - top << "\" fill=\"none\" stroke=\"black\"/>\n"
      << "<text x=\"" << (left + right) / 2 << "\" y=\"" << plot_height - 15 << "\" text-anchor=\"middle\">"
      << xml_escape(x_label) << "</text>\n"
      << "<text transform=\"translate(20," << (top + bottom) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
      << xml_escape(y_label) << "</text>\n";
}

}  // namespace detail

inline std::string line_chart_svg(const LineChart& chart) {
  using namespace detail;
  // On a log axis a value is drawn at its log10, and one that has none is not drawn.
  const auto y_of = [&](double v) {
    return chart.log_y ? (v > 0 ? std::log10(v) : NAN) : v;
  };
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (double v : chart.x) x_lo = std::min(x_lo, v), x_hi = std::max(x_hi, v);
  for (const PlotSeries& s : chart.series)
    for (double v : s.values)
      if (std::isfinite(y_of(v))) y_lo = std::min(y_lo, y_of(v)), y_hi = std::max(y_hi, y_of(v));
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1;
  if (!std::isfinite(y_lo)) y_lo = 0, y_hi = 1;
  if (chart.log_y) y_lo = std::floor(y_lo), y_hi = std::ceil(y_hi);
  const Ticks xt = nice_ticks(x_lo, x_hi, chart.integer_x ? 1.0 : 0.0);
  const Ticks yt = nice_ticks(y_lo, y_hi, chart.log_y ? 1.0 : 0.0);
  x_lo = xt.values.front(), x_hi = xt.values.back();
  y_lo = yt.values.front(), y_hi = yt.values.back();

  const double left = margin_left, right = plot_width - margin_right, top = margin_top,
               bottom = plot_height - margin_bottom;
  auto px = [&](double v) {
    return left + (v - x_lo) / (x_hi - x_lo) * (right - left);
  };
  auto py = [&](double v) {
    return bottom - (v - y_lo) / (y_hi - y_lo) * (bottom - top);
  };

  std::ostringstream out;
  svg_open(out, chart.title);
  svg_axes(out, yt, y_lo, y_hi, chart.x_label, chart.y_label, chart.log_y);
  for (double v : xt.values)
    out << "<line x1=\"" << px(v) << "\" y1=\"" << bottom << "\" x2=\"" << px(v) << "\" y2=\"" << bottom + 5
        << "\" stroke=\"black\"/>\n<text x=\"" << px(v) << "\" y=\"" << bottom + 19
        << "\" text-anchor=\"middle\">" << format_number(v, xt.decimals) << "</text>\n";
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    const PlotSeries& series = chart.series[s];
    const char* color = plot_colors[s % std::size(plot_colors)];
    const std::size_t n = std::min(series.values.size(), chart.x.size());
    out << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"2\" points=\"";
    for (std::size_t i = 0; i < n; ++i)
      if (std::isfinite(y_of(series.values[i])))
        out << px(chart.x[i]) << ',' << py(y_of(series.values[i])) << ' ';
    out << "\"/>\n";
    for (std::size_t i = 0; i < n; ++i)
      if (std::isfinite(y_of(series.values[i])))
        out << "<circle cx=\"" << px(chart.x[i]) << "\" cy=\"" << py(y_of(series.values[i]))
            << "\" r=\"3\" fill=\"" << color << "\"/>\n";
    // The legend, right of the plot area.
    const double ly = top + 10 + 22 * double(s);
    out << "<line x1=\"" << right + 15 << "\" y1=\"" << ly << "\" x2=\"" << right + 40 << "\" y2=\"" << ly
        << "\" stroke=\"" << color << "\" stroke-width=\"2\"/>\n<text x=\"" << right + 46 << "\" y=\""
        << ly + 4 << "\">" << xml_escape(series.name) << "</text>\n";
  }
  out << "</svg>\n";
  return out.str();
}

inline std::string bar_chart_svg(const BarChart& chart) {
  using namespace detail;
  double y_hi = 0;
  for (double v : chart.values)
    if (std::isfinite(v)) y_hi = std::max(y_hi, v);
  if (y_hi <= 0) y_hi = 1;
  const Ticks yt = nice_ticks(0, y_hi * 1.1);  // headroom for the value labels
  const double y_lo = yt.values.front();
  y_hi = yt.values.back();

  const double left = margin_left, right = plot_width - margin_right, top = margin_top,
               bottom = plot_height - margin_bottom;
  auto py = [&](double v) {
    return bottom - (v - y_lo) / (y_hi - y_lo) * (bottom - top);
  };

  std::ostringstream out;
  svg_open(out, chart.title);
  svg_axes(out, yt, y_lo, y_hi, chart.x_label, chart.y_label);
  const std::size_t n = std::min(chart.categories.size(), chart.values.size());
  const double slot = (right - left) / double(std::max<std::size_t>(n, 1));
  for (std::size_t i = 0; i < n; ++i) {
    const double v = std::isfinite(chart.values[i]) ? std::max(chart.values[i], 0.0) : 0.0;
    const double x = left + slot * (double(i) + 0.2), w = slot * 0.6,
                 center = left + slot * (double(i) + 0.5);
    out << "<rect x=\"" << x << "\" y=\"" << py(v) << "\" width=\"" << w << "\" height=\"" << bottom - py(v)
        << "\" fill=\"" << plot_colors[0] << "\"/>\n"
        << "<text x=\"" << center << "\" y=\"" << py(v) - 6 << "\" text-anchor=\"middle\">"
        << format_value(chart.values[i]) << "</text>\n"
        << "<text x=\"" << center << "\" y=\"" << bottom + 19 << "\" text-anchor=\"middle\">"
        << xml_escape(chart.categories[i]) << "</text>\n";
  }
  if (!chart.legend.empty())
    out << "<rect x=\"" << right + 15 << "\" y=\"" << top + 4 << "\" width=\"25\" height=\"12\" fill=\""
        << plot_colors[0] << "\"/>\n<text x=\"" << right + 46 << "\" y=\"" << top + 14 << "\">"
        << xml_escape(chart.legend) << "</text>\n";
  out << "</svg>\n";
  return out.str();
}

// Writes `text` to `path`, throwing typenet::Error (naming the file and the reason) on any failure.
inline void write_text_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(path.string() + ": cannot create: " + std::generic_category().message(errno));
  out << text;
  out.close();
  if (!out) throw Error(path.string() + ": write failed");
}

}  // namespace typenet

// Seeds 002/003: the shopping computational graph, forward and backward, with Mul and Add nodes.
// A multiplication node sends back dout times the *other* input; an addition node passes dout through.
#include <cstdio>

#include "typenet/graph/nodes.hpp"

int main() {
  using typenet::graph::Add;
  using typenet::graph::Mul;

  // One item: 2 walnuts at 100, 10% tax.
  {
    Mul items, tax;
    const double total = tax.forward(items.forward(100, 2), 1.1);
    const auto d_tax = tax.backward(1);             // {d/d(items price), d/d(tax)}
    const auto d_items = items.backward(d_tax.dx);  // {d/d(price), d/d(count)}
    std::printf("One item\n");
    std::printf("  total:        %g\n", total);       // 220
    std::printf("  d/d price:    %g\n", d_items.dx);  // 2.2
    std::printf("  d/d count:    %g\n", d_items.dy);  // 110
    std::printf("  d/d tax:      %g\n\n", d_tax.dy);  // 200
  }

  // Two items: 2 walnuts at 100 and 3 pistachios at 150, 10% tax.
  {
    Mul walnuts, pistachios, tax;
    Add sum;
    const double total = tax.forward(sum.forward(walnuts.forward(100, 2), pistachios.forward(150, 3)), 1.1);
    const auto d_tax = tax.backward(1);
    const auto d_sum = sum.backward(d_tax.dx);
    const auto d_walnuts = walnuts.backward(d_sum.dx);
    const auto d_pistachios = pistachios.backward(d_sum.dy);
    std::printf("Two items\n");
    std::printf("  total:               %g\n", total);            // 715
    std::printf("  d/d walnut price:    %g\n", d_walnuts.dx);     // 2.2
    std::printf("  d/d pistachio price: %g\n", d_pistachios.dx);  // 3.3
    std::printf("  d/d walnut count:    %g\n", d_walnuts.dy);     // 110
    std::printf("  d/d pistachio count: %g\n", d_pistachios.dy);  // 165
    std::printf("  d/d tax:             %g\n", d_tax.dy);         // 650
  }
  return 0;
}

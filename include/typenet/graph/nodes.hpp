// Scalar computational-graph nodes (seeds 002/003): each node caches in forward() exactly what its backward()
// needs, and backward(dout) returns the gradient of the graph's output with respect to each input.
//   Add:     z = x + y   dz/dx = 1, dz/dy = 1          (passes dout through unchanged)
//   Mul:     z = x * y   dz/dx = y, dz/dy = x          (swaps the cached inputs)
//   ReLU:    y = max(x, 0)   dy/dx = [x > 0]
//   Sigmoid: y = 1 / (1 + e^-x)   dy/dx = y (1 - y)   (written through the cached output, seed 004)
// These are teaching nodes for the shopping examples; the network layers are matrix kernels.
#pragma once

#include <cmath>

namespace typenet::graph {

// The gradients flowing back to the two inputs of a binary node.
struct InputGradients {
  double dx;
  double dy;
};

class Add {
 public:
  double forward(double x, double y) const { return x + y; }
  InputGradients backward(double dout) const { return {dout, dout}; }
};

class Mul {
 public:
  double forward(double x, double y) {
    x_ = x;
    y_ = y;
    return x * y;
  }
  InputGradients backward(double dout) const { return {dout * y_, dout * x_}; }

 private:
  double x_ = 0;
  double y_ = 0;
};

class ReLU {
 public:
  double forward(double x) {
    passes_ = x > 0;
    return passes_ ? x : 0.0;
  }
  double backward(double dout) const { return passes_ ? dout : 0.0; }

 private:
  bool passes_ = false;
};

class Sigmoid {
 public:
  double forward(double x) {
    // Exponentiate only non-positive numbers: no overflow for any x.
    out_ = x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
    return out_;
  }
  double backward(double dout) const { return dout * out_ * (1.0 - out_); }

 private:
  double out_ = 0;
};

}  // namespace typenet::graph

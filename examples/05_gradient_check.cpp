// Seed 000 §4.3.5: gradient checking, on the full 784-256-128-10 network in double precision. Central
// differences (h = 1e-4) on a random sample of every weight matrix and bias vector, compared with the
// backward pass by the relative difference ||a - n|| / (||a|| + ||n||).
#include <cstdio>
#include <iostream>

#include "typenet/typenet.hpp"

using namespace typenet;

int main() {
  using Mlp = BasicNetwork<double, Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>,
                           SoftmaxCrossEntropy>;
  Mlp net{HeNormal{.seed = 42}};
  Matrix<double, 4, 784> x;
  NormalSource source(1);
  for (double& v : x.values()) v = source.standard_normal();
  const Labels<4> labels = {7, 2, 0, 9};

  const GradientCheckReport report = gradient_check(net, x, labels, {.h = 1e-4, .samples_per_tensor = 64});
  std::cout << report;
  const bool pass = report.passed(1e-6);
  std::printf("Status: %s (relative difference < 1e-6)\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}

// The four deep networks of examples/07_vanishing_gradients.cpp (and its test): ten Dense layers, 784 -> 128
// x 9 -> 10, as the course notes' vanishing-gradient section builds them (seed 001), plain sigmoid, the
// notes' remedies one at a time: ReLU, BatchNorm before each sigmoid, residual blocks around pairs of
// layers.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include <typenet/typenet.hpp>

namespace deep_nets {

using namespace typenet;

template <class Activation>
using Plain = Network<Dense<784, 128>, Activation, Dense<128, 128>, Activation, Dense<128, 128>, Activation,
                      Dense<128, 128>, Activation, Dense<128, 128>, Activation, Dense<128, 128>, Activation,
                      Dense<128, 128>, Activation, Dense<128, 128>, Activation, Dense<128, 128>, Activation,
                      Dense<128, 10>, SoftmaxCrossEntropy>;
using DeepSigmoid = Plain<Sigmoid>;
using DeepReLU = Plain<ReLU>;

using DeepSigmoidBatchNorm =
    Network<Dense<784, 128>, BatchNorm<128>, Sigmoid, Dense<128, 128>, BatchNorm<128>, Sigmoid,
            Dense<128, 128>, BatchNorm<128>, Sigmoid, Dense<128, 128>, BatchNorm<128>, Sigmoid,
            Dense<128, 128>, BatchNorm<128>, Sigmoid, Dense<128, 128>, BatchNorm<128>, Sigmoid,
            Dense<128, 128>, BatchNorm<128>, Sigmoid, Dense<128, 128>, BatchNorm<128>, Sigmoid,
            Dense<128, 128>, BatchNorm<128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>;

// x + W2 sigmoid(W1 x): four blocks of two layers between the first and the last, the identity path free of
// any activation (He et al.'s "pre-activation" form), so the gradient reaches the first layer undamped.
using SigmoidBlock = Residual<Dense<128, 128>, Sigmoid, Dense<128, 128>>;
using DeepSigmoidResidual = Network<Dense<784, 128>, Sigmoid, SigmoidBlock, SigmoidBlock, SigmoidBlock,
                                    SigmoidBlock, Dense<128, 10>, SoftmaxCrossEntropy>;

// ||dL/dW|| of each Dense layer, first to last, from one batch's gradients.
template <class Net>
std::vector<double> weight_gradient_norms(const typename Net::Parameters& gradients) {
  std::vector<double> norms;
  gradients.for_each_tensor([&](auto tensor) {
    if (tensor.kind != TensorKind::weights) return;
    double squares = 0;
    for (const auto g : tensor.values) squares += double(g) * double(g);
    norms.push_back(std::sqrt(squares));
  });
  return norms;
}

}  // namespace deep_nets

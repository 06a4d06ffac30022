// Train in PyTorch, run in typenet: the weights of a torch.nn.Sequential, saved as safetensors, load into the
// same network written as a type, are checked against it tensor by tensor, and classify Fashion-MNIST.
//   08_from_pytorch model.safetensors [fashion-mnist dir]
//
// The PyTorch side (tests/pytorch_interop.py has a 20-line safetensors writer, for Debian, which packages
// no python3-safetensors; with that package it is safetensors.torch.save_file(net.state_dict(), path)):
//   net = nn.Sequential(nn.Linear(784, 256), nn.Sigmoid(), nn.Linear(256, 128), nn.Sigmoid(),
//                       nn.Linear(128, 10))     # state_dict: 0.weight [256, 784], 0.bias, 2.weight, ...
//   ... train on pixels / 255 ...
// A file of another shape (a LeNet's, a 784-256-64-10 net's) is refused with the tensor, the layer and
// both shapes; a model with named modules (self.fc1 = ...) loads with SafetensorsOptions::module_names.
#include <cstdio>
#include <exception>
#include <typenet/typenet.hpp>

using namespace typenet;
// The PyTorch Sequential above, as typenet writes it (its loss, nn.CrossEntropyLoss, is the last layer).
using Mlp = Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>;

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: 08_from_pytorch model.safetensors [fashion-mnist dir]\n");
    return 2;
  }
  try {
    Mlp net;
    load_safetensors(net, argv[1]);
    std::printf("loaded %s: %zu parameters in 6 tensors, shapes checked against the type\n", argv[1],
                Mlp::parameter_count);
    const TrainTestSets data = load_fashion_mnist(argc > 2 ? argv[2] : default_fashion_mnist_dir);
    std::printf("test accuracy %.2f%% on %zu images\n", 100 * accuracy(net, data.test), data.test.count);

    Matrix<float, 5, 784> first;
    std::copy_n(data.test.image(0), first.size, first.data());
    const std::vector<std::uint32_t> classes = net.classify(first);
    for (std::size_t i = 0; i < classes.size(); ++i)
      std::printf("test image %zu: %-11s (label %s)\n", i, fashion_mnist_class_names[classes[i]],
                  fashion_mnist_class_names[data.test.labels[i]]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "08_from_pytorch: %s\n", e.what());
    return 1;
  }
}

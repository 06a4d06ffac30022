// Trains a tiny network on XOR-like data through the installed package and checks that it learned, and that
// its weights survive a safetensors round trip.
#include <cstdio>
#include <typenet/typenet.hpp>

int main() {
  using Net = typenet::Network<typenet::Dense<2, 8>, typenet::Sigmoid, typenet::Dense<8, 2>,
                               typenet::SoftmaxCrossEntropy>;
  Net net{typenet::HeNormal{.seed = 7}};
  typenet::Trainer trainer(net, typenet::Adam{.learning_rate = 0.05});
  typenet::Matrix<float, 4, 2> x;
  typenet::Labels<4> y{0, 1, 1, 0};
  const float inputs[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  for (int r = 0; r < 4; ++r) x(r, 0) = inputs[r][0], x(r, 1) = inputs[r][1];
  float first = trainer.step(x, y), last = first;
  for (int i = 0; i < 2000; ++i) last = trainer.step(x, y);
  const auto classes = net.classify(x);
  int correct = 0;
  for (int r = 0; r < 4; ++r) correct += classes[r] == y[r];
  // The safetensors reader is compiled into the library: the consumer needs no JSON parser of its own.
  Net loaded{typenet::HeNormal{.seed = 8}};
  typenet::decode_safetensors(loaded, typenet::encode_safetensors(net), "consumer.safetensors");
  const bool same = loaded.classify(x) == classes;
  std::printf("consumer: loss %.4f -> %.4f, %d/4 correct, safetensors round trip %s\n", first, last, correct,
              same ? "alike" : "DIFFERS");
  return last < first && correct == 4 && same ? 0 : 1;
}

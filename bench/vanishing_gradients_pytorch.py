#!/usr/bin/python3
"""PyTorch's side of examples/07_vanishing_gradients.cpp: the same four ten-layer networks (784 -> 128 x 9 ->
10: sigmoid, ReLU, sigmoid with BatchNorm1d before each sigmoid, sigmoid with residual blocks x + W2
sigmoid(W1 x)), He init (kaiming_normal_ over the fan-in, zero biases), on the first 256 Fashion-MNIST
training images: ||dL/dW|| of every Linear layer and the first/last ratio, one thread.

  /usr/bin/python3 bench/vanishing_gradients_pytorch.py [--data DIR] [--seed N]
"""
import argparse
import gzip
import os

import numpy as np
import torch
from torch import nn


def read_idx(path, ndim):
    path = path if os.path.exists(path) else path + ".gz"
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        raw = f.read()
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8).reshape(shape)


class Residual(nn.Sequential):
    def forward(self, x):
        return x + super().forward(x)


def plain(activation):
    layers = [nn.Linear(784, 128), activation()]
    for _ in range(8):
        layers += [nn.Linear(128, 128), activation()]
    return nn.Sequential(*layers, nn.Linear(128, 10))


def batch_norm():
    layers = [nn.Linear(784, 128), nn.BatchNorm1d(128), nn.Sigmoid()]
    for _ in range(8):
        layers += [nn.Linear(128, 128), nn.BatchNorm1d(128), nn.Sigmoid()]
    return nn.Sequential(*layers, nn.Linear(128, 10))


def residual():
    blocks = [Residual(nn.Linear(128, 128), nn.Sigmoid(), nn.Linear(128, 128)) for _ in range(4)]
    return nn.Sequential(nn.Linear(784, 128), nn.Sigmoid(), *blocks, nn.Linear(128, 10))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = read_idx(os.path.join(args.data, "train-images-idx3-ubyte"), 3)[:256]
    labels = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte"), 1)[:256]
    x = torch.from_numpy(images.reshape(256, 784).astype(np.float32) / np.float32(255))
    y = torch.from_numpy(labels.astype(np.int64))
    for name, make in (("sigmoid", lambda: plain(nn.Sigmoid)), ("ReLU", lambda: plain(nn.ReLU)),
                       ("sigmoid+BatchNorm", batch_norm), ("sigmoid+residual", residual)):
        torch.manual_seed(args.seed)
        net = make()
        linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
        for m in linears:
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")  # N(0, 2 / fan_in), as typenet's HeNormal
            nn.init.zeros_(m.bias)
        nn.CrossEntropyLoss()(net(x), y).backward()
        norms = [float(m.weight.grad.norm()) for m in linears]
        print(f"{name:18} first/last {norms[0] / norms[-1]:.3e}   " + " ".join(f"{n:.2e}" for n in norms))


if __name__ == "__main__":
    main()

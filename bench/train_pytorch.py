#!/usr/bin/python3
"""PyTorch reference for typenet's trainer: the course's MLP or LeNet-5 on Fashion-MNIST.

Same net, init, optimizer, batch and epochs as typenet's train_fashion_mnist (and, for LeNet, its
examples/06_lenet_fashion_mnist.cpp):
  --model mlp (default, as train_fashion_mnist by default):
      Linear(784,256) Sigmoid | Linear(256,128) Sigmoid | Linear(128,10), CrossEntropyLoss (batch mean);
      SGD lr 0.1, batch 32, 10 epochs.
  --model lenet (as train_fashion_mnist --model lenet):
      Conv2d(1,6,5,pad 2) ReLU MaxPool2 | Conv2d(6,16,5) ReLU MaxPool2 | Flatten
      Linear(400,120) ReLU | Linear(120,84) ReLU | Linear(84,10), CrossEntropyLoss (batch mean);
      Adam lr 1e-3, batch 64, 10 epochs.
  Both: weights He normal N(0, 2/fan_in), biases zero; shuffled each epoch, last partial batch included;
  pixels / 255, no other normalisation. --lr, --batch and --epochs override.

Run from the repository root with Debian's python3 (the one with python3-torch, /usr/bin/python3,
not a pyenv python earlier on PATH); 1 thread by default:
  python3 bench/train_pytorch.py [--model mlp|lenet] [--data DIR] [--epochs N] [--batch N] [--lr X]
                                 [--seed N] [--threads N] [--json FILE]
bench/end_to_end.sh runs it beside train_fashion_mnist in one session.
Needs: apt-get install python3-torch python3-numpy dataset-fashion-mnist
"""
import argparse
import gzip
import json
import math
import os
import platform
import sys
import time

import numpy as np
import torch
from torch import nn


def read_idx(path, ndim):
    """Reads an IDX file (raw or .gz) of unsigned bytes with `ndim` dimensions."""
    if not os.path.exists(path):
        if not os.path.exists(path + ".gz"):
            sys.exit(f"error: missing {path}.gz (or {path}); --data DIR names the Fashion-MNIST folder")
        path += ".gz"
    try:
        with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError; a truncated .gz an EOFError
        sys.exit(f"error: cannot read {path}: {e}")
    if len(raw) < 4 + 4 * ndim or raw[:4] != bytes([0, 0, 8, ndim]):
        sys.exit(f"error: {path}: not an IDX file of {ndim}-d unsigned bytes")
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = raw[4 + 4 * ndim:]
    if len(body) != math.prod(shape):
        sys.exit(f"error: {path}: header says {shape} ({math.prod(shape)} bytes), file has {len(body)}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def load(data_dir, split):
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte"), 3)
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte"), 1)
    if len(images) != len(labels) or images.shape[1:] != (28, 28) or labels.max() > 9:
        sys.exit(f"error: {data_dir}: {split} images {images.shape} / labels {labels.shape} do not match")
    x = torch.from_numpy(images.astype(np.float32) / 255).unsqueeze(1)  # N x 1 x 28 x 28
    return x, torch.from_numpy(labels.astype(np.int64))


def he_init(net):
    for m in net:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()  # in_channels*k*k, or in_features
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_in))
            nn.init.zeros_(m.bias)
    return net


def mlp():
    return he_init(nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.Sigmoid(), nn.Linear(256, 128), nn.Sigmoid(),
        nn.Linear(128, 10)))


def lenet():
    return he_init(nn.Sequential(
        nn.Conv2d(1, 6, 5, stride=1, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)))


# The trainer's defaults per model: (optimizer, learning rate, batch).
RECIPES = {"mlp": ("sgd", 0.1, 32), "lenet": ("adam", 1e-3, 64)}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(RECIPES), default="mlp")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args()
    optimizer, lr, batch = RECIPES[a.model]
    lr = a.lr if a.lr is not None else lr
    batch = a.batch if a.batch is not None else batch
    if batch < 1 or lr <= 0 or a.epochs < 0 or a.threads < 1:
        sys.exit("error: --batch and --threads must be at least 1, --lr positive, --epochs non-negative")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train_x, train_y = load(a.data, "train")
    test_x, test_y = load(a.data, "t10k")
    net = mlp() if a.model == "mlp" else lenet()
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()

    epochs = []
    for epoch in range(1, a.epochs + 1):
        net.train()
        total, start = 0.0, time.perf_counter()
        order = torch.randperm(len(train_x))
        for i in range(0, len(order), batch):  # the last, partial batch is a step of its own size
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(net(train_x[idx]), train_y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        seconds = time.perf_counter() - start
        net.eval()
        with torch.no_grad():
            correct = sum((net(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum().item()
                          for i in range(0, len(test_x), 1000))
        e = dict(epoch=epoch, train_loss=total / len(train_x), train_seconds=seconds,
                 test_accuracy=correct / len(test_x))
        epochs.append(e)
        print(f"epoch {epoch:2d}  train loss {e['train_loss']:.4f}  train {seconds:6.2f} s  "
              f"test accuracy {100 * e['test_accuracy']:.2f}%", flush=True)

    train_s = sum(e["train_seconds"] for e in epochs)
    acc = epochs[-1]["test_accuracy"] if epochs else float("nan")
    per = train_s / max(len(epochs), 1)
    summary = dict(test_accuracy=acc, train_seconds=train_s, seconds_per_epoch=per,
                   model=a.model, optimizer=optimizer,
                   epochs=a.epochs, batch=batch, lr=lr, seed=a.seed, threads=a.threads,
                   torch=torch.__version__, cpu=cpu_model(), per_epoch=epochs)
    print(f"pytorch {a.model}: test accuracy {100 * acc:.2f}%, training {train_s:.1f} s ({per:.2f} s/epoch), "
          f"{a.threads} thread{'s' if a.threads != 1 else ''}, torch {torch.__version__}, CPU {summary['cpu']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()

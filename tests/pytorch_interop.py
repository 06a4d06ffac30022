#!/usr/bin/python3
"""The PyTorch side of typenet's safetensors tests (tests/test_pytorch_interop.cpp), run by CTest.

  export DIR   trains in PyTorch the 784-256-128-10 sigmoid MLP (a Sequential, and the same weights in a
               module with named layers fc1, fc2, fc3), LeNet-5, an MLP with BatchNorm1d, a CNN with
               BatchNorm2d and an MLP with a residual block a few hundred Adam steps each on Fashion-MNIST, and writes DIR/torch_<net>.safetensors with its own small writer (Debian has
               no python3-safetensors) and DIR/torch_<net>.probabilities: softmax outputs on the first
               1,000 test images, float32 little-endian, 1,000 x 10, and DIR/torch_<net>.accuracy.
  check DIR    reads DIR/typenet_<net>.safetensors (what typenet trained and saved) into the same PyTorch
               nets with load_state_dict(strict=True) and checks its probabilities against
               DIR/typenet_<net>.probabilities: max abs difference <= 1e-5 and the same class for every
               image. Exits 1 with the figures otherwise.

Options: --data DIR (default /usr/share/datasets/fashion-mnist), --steps N (export, default 300), --seed N.
Needs Debian's python3-torch and python3-numpy; run with /usr/bin/python3.
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

TEST_IMAGES = 1000
TOLERANCE = 1e-5


def read_idx(path, ndim):
    if not os.path.exists(path):
        path += ".gz"
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 + 4 * ndim or raw[:4] != bytes([0, 0, 8, ndim]):
        sys.exit(f"error: {path}: not an IDX file of {ndim}-d unsigned bytes")
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = raw[4 + 4 * ndim:]
    if len(body) != math.prod(shape):
        sys.exit(f"error: {path}: header says {shape}, file has {len(body)} bytes")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def load(data_dir, split):
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte"), 3)
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte"), 1)
    x = torch.from_numpy(images.astype(np.float32) / np.float32(255))  # as typenet: pixel / 255
    return x, torch.from_numpy(labels.astype(np.int64))


def shaped(name, x):
    """Images as each net takes them: rows of 784 for the MLP, N x 1 x 28 x 28 for LeNet."""
    return x.reshape(len(x), 784) if name.startswith("mlp") else x.reshape(len(x), 1, 28, 28)


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.Sigmoid(), nn.Linear(256, 128), nn.Sigmoid(), nn.Linear(128, 10))


class NamedMlp(nn.Module):
    """The same MLP as a module with named layers: its state_dict says fc1.weight, not 0.weight."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = torch.sigmoid(self.fc1(x))
        return self.fc3(torch.sigmoid(self.fc2(x)))


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def mlp_bn():
    return nn.Sequential(nn.Linear(784, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 10))


def cnn_bn():
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 14 * 14, 10))


class Residual(nn.Sequential):
    """typenet's Residual<Layers...>: x + the layers' output. Its tensors are named 2.0.weight, 2.1.bias, ..."""

    def forward(self, x):
        return x + super().forward(x)


def mlp_residual():
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(),
                         Residual(nn.Linear(128, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 128)),
                         nn.ReLU(), nn.Linear(128, 10))


NETS = (("mlp", mlp), ("lenet", lenet), ("mlp_bn", mlp_bn), ("cnn_bn", cnn_bn), ("mlp_residual", mlp_residual))


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, value in tensors.items():
        # BatchNorm's num_batches_tracked is an int64 counter; everything else float32.
        integer = value.dtype == torch.int64
        blob = np.ascontiguousarray(value.detach().numpy(), dtype="<i8" if integer else "<f4").tobytes()
        header[name] = {"dtype": "I64" if integer else "F32", "shape": list(value.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    os.replace(path + ".tmp", path)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    header.pop("__metadata__", None)
    tensors = {}
    for name, entry in header.items():
        dtype = {"F32": "<f4", "F64": "<f8"}[entry["dtype"]]
        begin, end = entry["data_offsets"]
        values = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"])
        tensors[name] = torch.from_numpy(values.astype(np.float32))
    return tensors


def probabilities(net, x):
    with torch.no_grad():
        return torch.softmax(net(x), dim=1).numpy().astype("<f4")


def train(net, x, y, steps, seed):
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=generator)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(steps):
        batch = order[(step * 64) % len(x):][:64]
        optimizer.zero_grad()
        loss = loss_fn(net(x[batch]), y[batch])
        loss.backward()
        optimizer.step()
    return float(loss)


def export(args):
    x, y = load(args.data, "train")
    test_x, test_y = load(args.data, "t10k")
    test_x, test_y = test_x[:TEST_IMAGES], test_y[:TEST_IMAGES]
    for name, make in NETS:
        torch.manual_seed(args.seed)
        net = make()
        loss = train(net, shaped(name, x), y, args.steps, args.seed)
        state = net.state_dict()
        write_safetensors(os.path.join(args.dir, f"torch_{name}.safetensors"), state, {"format": "pt"})
        p = probabilities(net.eval(), shaped(name, test_x))
        p.tofile(os.path.join(args.dir, f"torch_{name}.probabilities"))
        accuracy = float((p.argmax(1) == test_y.numpy()).mean())
        with open(os.path.join(args.dir, f"torch_{name}.accuracy"), "w") as f:
            f.write(f"{100 * accuracy:.2f}\n")  # as train_fashion_mnist prints it
        print(f"PyTorch {name}: {args.steps} Adam steps, last loss {loss:.4f}, "
              f"accuracy on {TEST_IMAGES} test images {100 * accuracy:.1f}%")
        if name == "mlp":  # the same weights under a named module's names
            named = NamedMlp()
            named.fc1.load_state_dict({"weight": state["0.weight"], "bias": state["0.bias"]})
            named.fc2.load_state_dict({"weight": state["2.weight"], "bias": state["2.bias"]})
            named.fc3.load_state_dict({"weight": state["4.weight"], "bias": state["4.bias"]})
            if not np.array_equal(probabilities(named, shaped(name, test_x)), p):
                sys.exit("error: the named MLP does not compute what the Sequential does")
            write_safetensors(os.path.join(args.dir, "torch_mlp_named.safetensors"), named.state_dict(),
                              {"format": "pt"})


def check(args):
    test_x, test_y = load(args.data, "t10k")
    test_x = test_x[:TEST_IMAGES]
    failed = False
    for name, make in NETS:
        net = make()
        state = read_safetensors(os.path.join(args.dir, f"typenet_{name}.safetensors"))
        net.load_state_dict(state, strict=True)  # every name and shape, or an error
        theirs = np.fromfile(os.path.join(args.dir, f"typenet_{name}.probabilities"), dtype="<f4")
        if theirs.size != TEST_IMAGES * 10:
            sys.exit(f"error: typenet_{name}.probabilities holds {theirs.size} values, not {TEST_IMAGES * 10}")
        theirs = theirs.reshape(TEST_IMAGES, 10)
        ours = probabilities(net.eval(), shaped(name, test_x))
        difference = float(np.abs(ours - theirs).max())
        same_classes = int((ours.argmax(1) == theirs.argmax(1)).sum())
        accuracy = float((ours.argmax(1) == test_y[:TEST_IMAGES].numpy()).mean())
        print(f"typenet {name} in PyTorch: max abs difference {difference:.2e} (tolerance {TOLERANCE:.0e}), "
              f"same class for {same_classes} of {TEST_IMAGES}, accuracy {100 * accuracy:.1f}%")
        if difference > TOLERANCE or same_classes != TEST_IMAGES:
            failed = True
    if failed:
        sys.exit("error: PyTorch's probabilities for typenet's weights differ from typenet's")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["export", "check"])
    parser.add_argument("dir")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.dir, exist_ok=True)
    export(args) if args.command == "export" else check(args)


if __name__ == "__main__":
    main()

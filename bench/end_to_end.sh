#!/usr/bin/env bash
# The comparison users care about, in one session: the default Fashion-MNIST run of train_fashion_mnist
# (784-256-128-10 sigmoid MLP, SGD lr 0.1, batch 32, 10 epochs, 1 thread) beside the same training in
# PyTorch (bench/train_pytorch.py --model mlp, 1 thread): training time and test accuracy side by side.
#   bash bench/end_to_end.sh [build-dir] [--model lenet]      (default build-dir: build)
# Needs a built train_fashion_mnist, Debian's python3-torch and dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
[ $# -gt 0 ] && [ "${1#--}" = "$1" ] && { build=$1; shift; }
model=mlp
[ "${1:-}" = "--model" ] && model=${2:?--model needs mlp or lenet}
trainer="$build/examples/train_fashion_mnist"
[ -x "$trainer" ] || { echo "error: $trainer not built (cmake --build $build --target train_fashion_mnist)" >&2; exit 1; }
python=/usr/bin/python3  # Debian's, with python3-torch (not a pyenv python earlier on PATH)

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "CPU: $cpu ($(nproc) cores); one thread each"

start=$(date +%s.%N)
typenet_out=$("$trainer" --model "$model" --quiet)
typenet_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
typenet_acc=$(echo "$typenet_out" | grep -o "test accuracy [0-9.]*%" | tail -1 | grep -o "[0-9.]*%")

start=$(date +%s.%N)
torch_out=$(OMP_NUM_THREADS=1 "$python" bench/train_pytorch.py --model "$model" --threads 1)
torch_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
torch_train_s=$(echo "$torch_out" | tail -1 | grep -o "training [0-9.]* s" | grep -o "[0-9.]*")
torch_acc=$(echo "$torch_out" | tail -1 | grep -o "test accuracy [0-9.]*%" | grep -o "[0-9.]*%")

printf '%-62s %10s %14s\n' "$model, 10 epochs, Fashion-MNIST" "wall time" "test accuracy"
printf '%-62s %8.1f s %14s\n' "typenet  $trainer --model $model" "$typenet_s" "$typenet_acc"
printf '%-62s %8.1f s %14s\n' "PyTorch  bench/train_pytorch.py --model $model" "$torch_s" "$torch_acc"
awk -v t="$typenet_s" -v p="$torch_s" -v pt="$torch_train_s" 'BEGIN {
  printf "PyTorch / typenet wall time: %.2fx (PyTorch spent %.1f s in its training loops, the rest loading)\n", p / t, pt }'

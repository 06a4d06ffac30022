#!/usr/bin/env bash
# Data-parallel speed-up on this machine: train_fashion_mnist on 1 process against 2 MPI processes, at a
# global batch of 256 and of 32 (SGD, the default MLP), one epoch after a warm-up epoch; prints samples/s,
# the ratio and the allreduce's share of a step. Figures compare only within one run of this script.
#   bash bench/mpi_scaling.sh [BUILD_DIR]     (default build; needs typenet::mpi: libopenmpi-dev openmpi-bin)
set -euo pipefail
build=${1:-build}
trainer="$build/examples/train_fashion_mnist"
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to core)
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
# The second epoch's line: "epoch 2/2  ... N samples/s  (T s)[  allreduce A us of S us a step on P processes]"
rate() { grep -E '^epoch 2/2' | sed -E 's/.* ([0-9]+) samples\/s.*/\1/'; }
for batch in 256 32; do
  one=$("$trainer" --epochs 2 --batch "$batch" --test-limit 1000 | tr '\r' '\n')
  two=$("${mpirun[@]}" -np 2 "$trainer" --epochs 2 --batch "$batch" --test-limit 1000 | tr '\r' '\n')
  r1=$(echo "$one" | rate) r2=$(echo "$two" | rate)
  share=$(echo "$two" | grep -E '^epoch 2/2' | sed -E 's/.*allreduce ([0-9]+) us of ([0-9]+) us a step.*/\1 us of a \2 us step/')
  echo "global batch $batch: 1 process $r1 samples/s, 2 processes $r2 samples/s:" \
       "$(awk -v a="$r2" -v b="$r1" 'BEGIN { printf "%.2fx", a / b }'), allreduce $share"
done

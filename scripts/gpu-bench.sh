#!/usr/bin/env bash
# Benchmarks on a machine with an NVIDIA GPU and no network (Dawn on NVIDIA's Vulkan driver).
#
#   bash scripts/gpu-bench.sh prepare       # on a machine with network: fetch what the GPU box lacks
#   bash scripts/gpu-bench.sh run OUTDIR    # on the GPU machine: install, check, benchmark
#
# `prepare` downloads the Vulkan loader as Debian packages into .cache/gpu-bench/debs (Debian's
# registry) and checks that node_modules is complete; carry .cache/gpu-bench and node_modules to
# the GPU machine with the working tree. `run` unpacks the loader into .cache/gpu-bench/root
# without root rights when libvulkan.so.1 is missing, points Dawn at it, prints the adapter, runs
# the kernel tests and the ceiling, kernel, unet and fid benchmarks, and writes everything to OUTDIR
# (adapter.txt, tests.log, ceiling.json, kernels.json, unet.json, fid.json, nvidia-smi.txt). The PyTorch peers
# run when python3 has torch (CUDA when available).
set -uo pipefail
cd "$(dirname "$0")/.."
CACHE=.cache/gpu-bench
say() { printf 'gpu-bench: %s\n' "$*" >&2; }

case "${1:-}" in
prepare)
  mkdir -p "$CACHE/debs"
  (cd "$CACHE/debs" && apt-get download libvulkan1 >/dev/null) || {
    say "apt-get download libvulkan1 failed (needs Debian's package registry)"
    exit 1
  }
  [ -d node_modules/webgpu ] || npm ci --no-audit --no-fund --loglevel=error
  node scripts/gen-shaders.mjs
  say "ready: carry $CACHE and node_modules with the working tree"
  ;;
run)
  OUT=${2:?usage: gpu-bench.sh run OUTDIR}
  mkdir -p "$OUT"
  command -v nvidia-smi >/dev/null && nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
    deb=$(ls "$CACHE"/debs/libvulkan1_*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || { say "no libvulkan.so.1 and no $CACHE/debs/libvulkan1_*.deb: run 'prepare' first"; exit 1; }
    mkdir -p "$CACHE/root" && dpkg-deb -x "$deb" "$CACHE/root"
    export LD_LIBRARY_PATH="$PWD/$CACHE/root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
    say "using the Vulkan loader from $deb"
  fi
  node scripts/probe-adapter.mjs >"$OUT/adapter.txt" 2>&1 || { cat "$OUT/adapter.txt"; say "no WebGPU adapter"; exit 1; }
  cat "$OUT/adapter.txt"
  node scripts/gen-shaders.mjs
  (cd packages/tensor && npx vitest run) >"$OUT/tests.log" 2>&1
  say "kernel tests: $(grep -E 'Tests ' "$OUT/tests.log" | tail -1)"
  for suite in ceiling kernels unet fid; do
    npm run --silent -w @pfgmpp/bench bench -- "$suite" --json >"$OUT/$suite.log" 2>&1
    tail -1 "$OUT/$suite.log" >"$OUT/$suite.json"
    say "$suite done"
  done
  ;;
*)
  sed -n '2,12p' "$0"
  exit 2
  ;;
esac

#!/usr/bin/env bash
# Benchmarks on a machine with a GPU and no network (Dawn on the GPU's Vulkan driver).
#
#   bash scripts/gpu-bench.sh prepare      # here, with network: build what the GPU box needs
#   bash scripts/gpu-bench.sh run OUTDIR   # on the GPU machine, from the checkout
#
# `prepare` writes .cache/gpu-bench (about 35 MB, git-ignored: carry it with the working tree):
# the benchmarks as one bundled file (apps/bench/src/gpu.ts, esbuild; no test runner or TF.js),
# Dawn's Node binding for linux-x64 and this machine's node binary (both xz-compressed), and
# the Vulkan loader as a Debian package. `run` needs nothing else: it unpacks them, finds the
# NVIDIA Vulkan driver, prints the adapter, checks every kernel row against the CPU references,
# tunes and times every row on the UNet/Inception/matmul shapes (PyTorch on CUDA as the peer
# when python3 has it), runs the ceiling, unet and fid suites, and writes OUTDIR/*.json,
# summary.json and summary.txt (GFLOP/s as a share of the GPU's fp32 peak, the targets).
set -uo pipefail
cd "$(dirname "$0")/.."
CACHE=.cache/gpu-bench
say() { printf 'gpu-bench: %s\n' "$*" >&2; }

case "${1:-}" in
prepare)
  set -e
  mkdir -p "$CACHE/debs" "$CACHE/node_modules/webgpu/dist/linux-x64"
  [ -d node_modules/webgpu ] || npm ci --no-audit --no-fund --loglevel=error
  node scripts/gen-shaders.mjs
  (cd "$CACHE/debs" && apt-get download libvulkan1 >/dev/null) || {
    say "apt-get download libvulkan1 failed (needs Debian's package registry)"
    exit 1
  }
  node_modules/.bin/esbuild apps/bench/src/gpu.ts --bundle --platform=node --format=esm \
    --target=node20 --conditions=pfgmpp-source --external:webgpu --outfile="$CACHE/bench.mjs" \
    --log-level=warning || exit 1
  cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$CACHE/node_modules/webgpu/"
  # The ceiling suite reads its probe kernels next to its own module.
  mkdir -p "$CACHE/probes" && cp apps/bench/src/probes/*.wgsl "$CACHE/probes/"
  xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node >"$CACHE/dawn.node.xz"
  xz -T2 -6 -c "$(command -v node)" >"$CACHE/node.xz"
  say "ready: carry $CACHE ($(du -sh "$CACHE" | cut -f1)) with the working tree"
  ;;
run)
  OUT=${2:?usage: gpu-bench.sh run OUTDIR}
  mkdir -p "$OUT"
  [ -f "$CACHE/bench.mjs" ] || { say "no $CACHE/bench.mjs: run 'prepare' on a machine with network first"; exit 1; }
  command -v nvidia-smi >/dev/null && nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
  # Node and Dawn's binding, unpacked next to the bundle (through a temporary name, so an
  # interrupted unpack is never taken for a whole file).
  unpack() {
    [ -f "$2" ] && return 0
    xz -dc "$1" >"$2.tmp" && chmod +x "$2.tmp" && mv "$2.tmp" "$2" || { say "cannot unpack $1"; exit 1; }
  }
  unpack "$CACHE/node.xz" "$CACHE/node"
  unpack "$CACHE/dawn.node.xz" "$CACHE/node_modules/webgpu/dist/linux-x64/dawn.node"
  # The Vulkan loader where the system lacks it, and NVIDIA's driver manifest where the loader
  # does not find one by itself.
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then
    deb=$(ls "$CACHE"/debs/libvulkan1_*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || { say "no libvulkan.so.1 and no $CACHE/debs/libvulkan1_*.deb"; exit 1; }
    mkdir -p "$CACHE/root" && dpkg-deb -x "$deb" "$CACHE/root"
    export LD_LIBRARY_PATH="$PWD/$CACHE/root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
    say "using the Vulkan loader from $deb"
  fi
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; fi
  done
  # PyTorch peers: the python3 on PATH (CUDA PyTorch on the GPU machines), on the GPU.
  export PFGMPP_PEERS_DIR="$PWD/apps/bench/peers" PFGMPP_PEER_PYTHON=python3
  if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    export PFGMPP_PEER_DEVICE=cuda
  fi
  export PFGMPP_CACHE_DIR="$OUT/kernel-cache" PFGMPP_ADAPTER="${PFGMPP_ADAPTER:-}"
  bench() { "$CACHE/node" "$CACHE/bench.mjs" "$@"; }
  failed=0
  # Each step: stdout (its JSON last) to STEP.out, messages to STEP.log.
  step() {
    local status=0
    bench "$1" "$OUT" >"$OUT/$1.out" 2>"$OUT/$1.log" || status=$?
    if [ "$status" -ne 0 ]; then
      failed=1
      say "$1 failed (exit $status): see $OUT/$1.log"
    fi
  }
  step adapter
  cat "$OUT/adapter.out"
  [ -f "$OUT/adapter.json" ] || { cat "$OUT/adapter.log"; say "no WebGPU adapter"; exit 1; }
  grep -q '"software": true' "$OUT/adapter.json" && say "warning: the adapter is a software rasterizer; is the GPU's Vulkan driver there?"
  step check
  say "check: $(grep -c 'passed' "$OUT/check.out") rows pass, $(grep -c 'FAILED' "$OUT/check.out") fail"
  step rows
  say "rows done ($(grep -c 'failed on this adapter' "$OUT/rows.log") rows dropped)"
  for suite in ceiling unet fid; do
    step "$suite"
    tail -1 "$OUT/$suite.out" >"$OUT/$suite.json"
    say "$suite done"
  done
  bench summary "$OUT"
  exit "$failed"
  ;;
*)
  sed -n '2,14p' "$0"
  exit 2
  ;;
esac

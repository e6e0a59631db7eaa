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
  mkdir -p "$CACHE/debs" "$CACHE/node_modules/webgpu/dist/linux-x64"
  [ -d node_modules/webgpu ] || npm ci --no-audit --no-fund --loglevel=error
  node scripts/gen-shaders.mjs
  (cd "$CACHE/debs" && apt-get download libvulkan1 >/dev/null) || {
    say "apt-get download libvulkan1 failed (needs Debian's package registry)"
    exit 1
  }
  node_modules/.bin/esbuild apps/bench/src/gpu.ts --bundle --platform=node --format=esm \
    --target=node20 --external:webgpu --outfile="$CACHE/bench.mjs" --log-level=warning || exit 1
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
  # Node and Dawn's binding, unpacked next to the bundle.
  [ -x "$CACHE/node" ] || xz -dc "$CACHE/node.xz" >"$CACHE/node" && chmod +x "$CACHE/node"
  dawn="$CACHE/node_modules/webgpu/dist/linux-x64/dawn.node"
  [ -f "$dawn" ] || xz -dc "$CACHE/dawn.node.xz" >"$dawn"
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
  bench adapter "$OUT" >"$OUT/adapter.log" 2>&1 || { cat "$OUT/adapter.log"; say "no WebGPU adapter"; exit 1; }
  cat "$OUT/adapter.log"
  grep -q '"software": true' "$OUT/adapter.json" && say "warning: the adapter is a software rasterizer; is the GPU's Vulkan driver there?"
  bench check "$OUT" >"$OUT/check.log" 2>&1
  say "check: $(grep -c 'passed' "$OUT/check.log") rows pass, $(grep -c 'FAILED' "$OUT/check.log") fail"
  bench rows "$OUT" >"$OUT/rows.log" 2>&1
  say "rows done ($(grep -c '^kernels:' "$OUT/rows.log") tuning lines)"
  for suite in ceiling unet fid; do
    bench "$suite" "$OUT" >"$OUT/$suite.log" 2>&1
    tail -1 "$OUT/$suite.log" >"$OUT/$suite.json"
    say "$suite done"
  done
  bench summary "$OUT"
  ;;
*)
  sed -n '2,14p' "$0"
  exit 2
  ;;
esac

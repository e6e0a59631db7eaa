#!/usr/bin/env bash
# Makes sure Node can get a WebGPU adapter (Dawn from the `webgpu` npm package).
#
# Does nothing when an adapter already exists (a real GPU driver, or lavapipe installed before).
# Otherwise, on Debian 12 as root, installs Mesa's software Vulkan driver (lavapipe) from
# bookworm-backports: Debian 12's own Mesa 22.3 lacks features Dawn requires, Mesa 25 works.
# Elsewhere it stops and says what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

probe() { node scripts/probe-adapter.mjs >/dev/null 2>&1; }

if probe; then
  exit 0
fi

say() { printf 'ensure-webgpu: %s\n' "$*" >&2; }

if [ ! -r /etc/os-release ] || ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release; then
  say "no WebGPU adapter found. Install a Vulkan driver (a GPU driver, or Mesa >= 24 with"
  say "lavapipe: package mesa-vulkan-drivers) and libvulkan1, then run this again."
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  say "no WebGPU adapter found. As root run:"
  say "  add bookworm-backports to apt's sources, then"
  say "  apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1"
  exit 1
fi

src=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$src" ]; then
  # Same mirror and key as the Debian source apt already uses.
  base=/etc/apt/sources.list.d/debian.sources
  uri=$(grep -m1 '^URIs:' "$base" 2>/dev/null | awk '{print $2}')
  key=$(grep -m1 '^Signed-By:' "$base" 2>/dev/null | awk '{print $2}')
  uri=${uri:-http://deb.debian.org/debian}
  key=${key:-/usr/share/keyrings/debian-archive-keyring.gpg}
  say "adding bookworm-backports ($uri) to apt sources"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
    "$uri" "$key" >"$src"
fi
say "installing Mesa's lavapipe (software Vulkan) from bookworm-backports"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null

if ! probe; then
  say "lavapipe is installed but still no WebGPU adapter; details:"
  node scripts/probe-adapter.mjs || true
  exit 1
fi
say "WebGPU adapter ready"

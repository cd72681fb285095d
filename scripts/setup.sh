#!/usr/bin/env bash
# Installs what HybridC needs on Debian 12 (run as root), then configures and
# builds it in build/. Idempotent: a second run installs nothing and rebuilds
# only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22
  flatbuffers-compiler libflatbuffers-dev ccache ninja-build cmake g++ python3
)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ccache shares objects between build folders only with a base dir.
export CCACHE_BASEDIR="$(cd .. && pwd)"
if [ ! -f build/build.ninja ]; then
  cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    >build-configure.log 2>&1 || { cat build-configure.log; exit 1; }
fi
ninja -C build

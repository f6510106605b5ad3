#!/usr/bin/env bash
# Build the engine bench's peer, llama.cpp, once, outside the repo, and reuse it.
#
#   bash bench/peers.sh            # ~15 min on 2 cores the first time, seconds afterwards
#
# Source: the llama.cpp vendored in the llama-cpp-python sdist (PyPI is reachable where model
# hubs and GitHub are not), built natively (-DGGML_NATIVE=ON: the same CPU features lmforge's
# kernels probe for). Then the Python binding is installed into its own directory with
# -DLLAMA_BUILD=OFF, so it loads this build's libllama.so (LLAMA_CPP_LIB_PATH) instead of
# compiling a second copy. Nothing here is a dependency of lmforge; CI does not run it.
# Cache: $LMFORGE_CACHE, else ~/.cache/lmforge. PYTHON: the interpreter whose pip to use.
set -euo pipefail

VERSION=0.3.36
CACHE="${LMFORGE_CACHE:-$HOME/.cache/lmforge}"
PYTHON="${PYTHON:-python}"
SRC="$CACHE/llamacpp-src"
BUILD="$CACHE/llama.cpp-build"
BINDING="$CACHE/llamacpp-py"
TARGETS=(llama-server llama-bench llama-batched-bench llama-cli llama-perplexity llama-quantize)
JOBS="${JOBS:-2}"

have_all() {
  for t in "${TARGETS[@]}"; do [[ -x "$BUILD/bin/$t" ]] || return 1; done
  [[ -e "$BUILD/bin/libllama.so" ]]
}

if have_all; then
  echo "llama.cpp: already built in $BUILD/bin"
else
  mkdir -p "$SRC"
  sdist="$SRC/llama_cpp_python-$VERSION.tar.gz"
  if [[ ! -f "$sdist" ]]; then
    "$PYTHON" -m pip download --no-deps --no-binary :all: -d "$SRC" "llama-cpp-python==$VERSION"
  fi
  [[ -d "$SRC/llama_cpp_python-$VERSION" ]] || tar -xzf "$sdist" -C "$SRC"
  cmake -S "$SRC/llama_cpp_python-$VERSION/vendor/llama.cpp" -B "$BUILD" \
    -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=ON
  cmake --build "$BUILD" -j"$JOBS" --target "${TARGETS[@]}"
  have_all || { echo "llama.cpp build incomplete in $BUILD/bin" >&2; exit 1; }
fi

if [[ -d "$BINDING/llama_cpp" ]]; then
  echo "llama-cpp-python: already installed in $BINDING"
else
  sdist="$SRC/llama_cpp_python-$VERSION.tar.gz"
  [[ -f "$sdist" ]] || "$PYTHON" -m pip download --no-deps --no-binary :all: -d "$SRC" \
    "llama-cpp-python==$VERSION"
  CMAKE_ARGS="-DLLAMA_BUILD=OFF" "$PYTHON" -m pip install --no-deps --target "$BINDING" "$sdist"
  "$PYTHON" -m pip install --no-deps --target "$BINDING" diskcache==5.6.3  # its one missing dep
fi
echo "llama.cpp peer ready: binaries $BUILD/bin, binding $BINDING"

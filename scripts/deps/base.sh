#!/usr/bin/env bash
# Tools the core tests use when present: ripgrep (the Grep tool's fast path), tmux (the Neovim and Emacs TUI
# tests), and Emacs 28 with Debian's Eglot 1.9 (the generic-client review in tests/editors/emacs).
set -euo pipefail
. "$(dirname "$0")/../lib/apt.sh"
apt_install ripgrep tmux emacs-nox elpa-eglot

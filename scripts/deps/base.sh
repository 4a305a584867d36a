#!/usr/bin/env bash
# Tools the core tests use when present: ripgrep (the Grep tool's fast path) and tmux (the Neovim TUI test).
set -euo pipefail
. "$(dirname "$0")/../lib/apt.sh"
apt_install ripgrep tmux

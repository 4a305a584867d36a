# Sourced by scripts/deps/*.sh: install Debian packages that are missing, with `apt-get update` once and
# retries while another dpkg holds the lock (CI machines run several installers one after another).
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "apt: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    for attempt in 1 2 3 4 5 6; do
        if $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
            return 0
        fi
        # A missing package list or a held lock: refresh the lists and wait a little.
        $sudo apt-get update -q >&2 || true
        sleep $((attempt * 5))
    done
    echo "apt: could not install ${missing[*]}" >&2
    return 1
}

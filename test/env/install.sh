#!/usr/bin/env bash
# Installs, from Debian's archive only, everything the build and the end-to-end
# tests need. Idempotent: a second run with everything present makes no apt
# call at all. See test/env/README.md.
set -Eeuo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bx_init

T0=$SECONDS
SOURCES=/etc/apt/sources.list.d/debian.sources
TRIXIE_SOURCES=/etc/apt/sources.list.d/bx-test-trixie.sources
TRIXIE_PIN=/etc/apt/preferences.d/bx-test-trixie
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
DEB_DIR=$BX_STATE/debs

# Build and test tools, plus the runtime dependencies of trixie's docker.io
# (containerd, runc, tini, iptables, ...) taken from bookworm on purpose: if
# they were missing when `apt-get install -t trixie docker.io` runs, apt would
# take them from trixie and drag in trixie's libc6, perl, python3 and systemd.
BOOKWORM_PKGS=(
    build-essential cmake pkg-config libcurl4-openssl-dev libcjson-dev libuv1-dev
    libssl-dev libgit2-dev libcmocka-dev git openssl ca-certificates curl python3
    iproute2 procps psmisc strace
    containerd runc tini iptables adduser sysvinit-utils libsystemd0 init-system-helpers
    qemu-user-static docker-registry apache2-utils busybox-static
)
TRIXIE_PKGS=(docker.io docker-cli docker-buildx)

# ---------------------------------------------------------------- apt helpers
UPDATED=0

apt_wait_locks() {
    command -v fuser >/dev/null 2>&1 || return 0
    local i locks=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock)
    for ((i = 0; i < 300; i++)); do
        fuser "${locks[@]}" >/dev/null 2>&1 || return 0
        ((i % 15 == 0)) && bx_log "apt/dpkg is locked by another process; waiting (up to 10 min)"
        sleep 2
    done
    bx_die "apt/dpkg is still locked after 10 minutes (see 'fuser -v /var/lib/dpkg/lock-frontend'); wait for the other apt-get to finish and run install.sh again"
}

apt_get() {
    apt_wait_locks
    apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

apt_update_once() {
    [ "$UPDATED" -eq 1 ] && return 0
    bx_log "apt-get update"
    apt_get update -qq >/dev/null ||
        bx_die "apt-get update failed (Debian archive unreachable or a bad source in /etc/apt/sources.list.d); check 'apt-get update' output and network, then run install.sh again"
    UPDATED=1
}

pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

pkg_version() {
    dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true
}

# ---------------------------------------------------------------- state dir
install -d -m 0755 "$BX_STATE" "$DEB_DIR"

# ---------------------------------------------------------------- trixie source + pin
[ -f "$SOURCES" ] || bx_die "$SOURCES not found; this script expects Debian 12's deb822 sources file (add it, or adapt install.sh)"
# The URI of the stanza that carries the plain 'bookworm' suite.
DEBIAN_URI=$(awk '
    BEGIN { RS=""; FS="\n" }
    {
        uri=""; suites=""
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^URIs:/)   { uri = $i;    sub(/^URIs:[ \t]*/, "", uri) }
            if ($i ~ /^Suites:/) { suites = $i; sub(/^Suites:[ \t]*/, "", suites) }
        }
        n = split(suites, s, /[ \t]+/)
        for (j = 1; j <= n; j++) if (s[j] == "bookworm") { split(uri, u, /[ \t]+/); print u[1]; exit }
    }' "$SOURCES")
[ -n "$DEBIAN_URI" ] || bx_die "no stanza with suite 'bookworm' and a URIs: line in $SOURCES; fix the file or adapt install.sh"
[ -f "$KEYRING" ] || bx_die "$KEYRING missing; apt-get install debian-archive-keyring and run install.sh again"

SOURCES_CHANGED=0
if bx_write_if_changed "$TRIXIE_SOURCES" 0644 <<EOF; then SOURCES_CHANGED=1; fi
# Added by buildx-executor test/env/install.sh: docker.io 26 + docker-buildx come
# from trixie (bookworm has docker.io 20.10 and no buildx). Pinned low below.
Types: deb
URIs: $DEBIAN_URI
Suites: trixie
Components: main
Signed-By: $KEYRING
EOF
if bx_write_if_changed "$TRIXIE_PIN" 0644 <<'EOF'; then SOURCES_CHANGED=1; fi
# Added by buildx-executor test/env/install.sh: nothing comes from trixie unless
# asked for with -t trixie.
Package: *
Pin: release n=trixie
Pin-Priority: 100
EOF
[ "$SOURCES_CHANGED" -eq 1 ] && bx_log "trixie source ($DEBIAN_URI) and pin (priority 100) written"

# ---------------------------------------------------------------- bookworm packages
missing=()
for p in "${BOOKWORM_PKGS[@]}"; do
    pkg_installed "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    apt_update_once
    bx_log "installing from bookworm: ${missing[*]}"
    apt_get install -y -q --no-install-recommends "${missing[@]}" ||
        bx_die "apt-get install of bookworm packages failed (${missing[*]}); read apt's error above, fix it and run install.sh again"
else
    bx_log "bookworm packages: all ${#BOOKWORM_PKGS[@]} present"
fi

# ---------------------------------------------------------------- trixie docker
need_trixie=0
for p in "${TRIXIE_PKGS[@]}"; do
    pkg_installed "$p" || need_trixie=1
done
for p in docker.io docker-cli; do
    v=$(pkg_version "$p")
    if [ -n "$v" ] && dpkg --compare-versions "$v" lt 26; then need_trixie=1; fi
done
if [ "$need_trixie" -eq 1 ]; then
    apt_update_once
    # Guard: simulate first; only the three docker packages may come in (from
    # trixie). Anything else means apt would start upgrading the system.
    sim=$(apt_get install -s -t trixie --no-install-recommends "${TRIXIE_PKGS[@]}" 2>&1) ||
        bx_die "apt-get cannot resolve '-t trixie ${TRIXIE_PKGS[*]}': $(printf '%s\n' "$sim" | grep -E '^E:' | head -n1)"
    extra=$(printf '%s\n' "$sim" | awk '/^Inst /{print $2}' | grep -vxE 'docker\.io|docker-cli|docker-buildx' || true)
    if [ -n "$extra" ]; then
        bx_die "installing ${TRIXIE_PKGS[*]} from trixie would also install/upgrade: $(echo "$extra" | tr '\n' ' ')- refusing (it would mix trixie into the system); install those from bookworm first (add them to BOOKWORM_PKGS in install.sh)"
    fi
    bx_log "installing from trixie: ${TRIXIE_PKGS[*]}"
    apt_get install -y -q -t trixie --no-install-recommends "${TRIXIE_PKGS[@]}" ||
        bx_die "apt-get install -t trixie ${TRIXIE_PKGS[*]} failed; read apt's error above"
else
    bx_log "trixie docker packages: present (docker.io $(pkg_version docker.io), docker-buildx $(pkg_version docker-buildx))"
fi

# ---------------------------------------------------------------- arm64 busybox-static .deb
# Downloaded (not installed) with a private apt state: arm64 lists in
# $BX_STATE/apt-arm64, so the system's dpkg architectures stay untouched.
shopt -s nullglob
arm_debs=("$DEB_DIR"/busybox-static_*_arm64.deb)
shopt -u nullglob
if [ "${#arm_debs[@]}" -eq 0 ]; then
    A=$BX_STATE/apt-arm64
    install -d -m 0755 "$A/lists/partial" "$A/cache/archives/partial" "$A/etc/sources.list.d" "$A/etc/preferences.d"
    printf 'deb [arch=arm64 signed-by=%s] %s bookworm main\n' "$KEYRING" "$DEBIAN_URI" >"$A/etc/sources.list"
    aopts=(
        -o APT::Architecture=arm64 -o APT::Architectures::=arm64
        -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o Dir::State::status=/dev/null
        -o "Dir::Etc::SourceList=$A/etc/sources.list" -o "Dir::Etc::SourceParts=$A/etc/sources.list.d"
        -o "Dir::Etc::Preferences=$A/etc/preferences" -o "Dir::Etc::PreferencesParts=$A/etc/preferences.d"
        -o APT::Sandbox::User=root
    )
    bx_log "downloading busybox-static:arm64 (.deb only, not installed)"
    apt-get "${aopts[@]}" update -qq >/dev/null ||
        bx_die "apt-get update for arm64 lists (in $A) failed; check that $DEBIAN_URI is reachable and run install.sh again"
    (cd "$DEB_DIR" && apt-get "${aopts[@]}" download -q busybox-static >/dev/null) ||
        bx_die "apt-get download busybox-static for arm64 into $DEB_DIR failed; see apt's error above"
    shopt -s nullglob
    arm_debs=("$DEB_DIR"/busybox-static_*_arm64.deb)
    shopt -u nullglob
    [ "${#arm_debs[@]}" -eq 1 ] || bx_die "expected one busybox-static_*_arm64.deb in $DEB_DIR after the download, found ${#arm_debs[@]}; remove them and run install.sh again"
fi
arch=$(dpkg-deb -f "${arm_debs[0]}" Architecture 2>/dev/null || true)
[ "$arch" = arm64 ] || bx_die "${arm_debs[0]} is not a valid arm64 .deb (Architecture: '${arch}'); delete it and run install.sh again"

# ---------------------------------------------------------------- verify
[ -x /usr/sbin/dockerd ] || bx_die "/usr/sbin/dockerd missing after install; check 'dpkg -L docker.io'"
dv=$(dockerd --version 2>/dev/null || true)
case $dv in *" 26."* | *" 27."* | *" 28."* | *" 29."*) ;; *) bx_die "dockerd is '$dv', expected >= 26 from trixie; run 'apt-get install -t trixie docker.io'" ;; esac
for cli in /usr/local/bin/docker /usr/bin/docker; do
    [ -x "$cli" ] || continue
    "$cli" buildx version >/dev/null 2>&1 ||
        bx_die "'$cli buildx version' fails; the plugin /usr/libexec/docker/cli-plugins/docker-buildx is missing or broken (reinstall docker-buildx from trixie)"
done
[ -x /usr/bin/docker-registry ] || bx_die "/usr/bin/docker-registry missing; apt-get install docker-registry"
[ -f /usr/lib/binfmt.d/qemu-aarch64.conf ] || bx_die "/usr/lib/binfmt.d/qemu-aarch64.conf missing; apt-get install --reinstall qemu-user-static"
[ -x /usr/bin/qemu-aarch64-static ] || bx_die "/usr/bin/qemu-aarch64-static missing; apt-get install --reinstall qemu-user-static"
[ -x /bin/busybox ] || bx_die "/bin/busybox missing; apt-get install --reinstall busybox-static"
command -v htpasswd >/dev/null || bx_die "htpasswd missing; apt-get install apache2-utils"
[ -x /usr/bin/python3 ] || bx_die "/usr/bin/python3 missing; apt-get install python3"

bx_log "done in $((SECONDS - T0))s: $dv; buildx $(docker buildx version 2>/dev/null | awk '{print $2}'); containerd $(pkg_version containerd); runc $(pkg_version runc); arm64 deb $(basename "${arm_debs[0]}")"

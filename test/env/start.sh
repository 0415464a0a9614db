#!/usr/bin/env bash
# Starts and configures the real parts the end-to-end tests use: binfmt for
# arm64, the test PKI, dockerd (containerd image store), registry A
# (registry.test:5443, TLS + htpasswd) and the multi-platform base image.
# Idempotent: with everything up and healthy it only checks, in a few seconds.
# Writes $BX_TEST_STATE/env.sh (default /var/lib/bx-test/env.sh). See README.md.
set -Eeuo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bx_init

T0=$SECONDS
bx_need_cmd dockerd docker docker-registry htpasswd openssl curl update-ca-certificates setsid flock ss dpkg-deb
[ -x /usr/bin/python3 ] || bx_die "/usr/bin/python3 missing; run test/env/install.sh first"
PY=/usr/bin/python3

REG_NAME=registry-a
REG_HOST=registry.test
REG_IP=127.0.0.2
REG_PORT=5443
REG=$REG_HOST:$REG_PORT
HARBOR_HOST=harbor.test
HARBOR_IP=127.0.0.3
HARBOR_PORT=5444
REG_USER=bxtest
IMG_REPO=library/busybox
BASE_IMAGE=$REG/$IMG_REPO:multi

CA_CRT=$BX_STATE/ca/ca.crt
CA_KEY=$BX_STATE/ca/ca.key
SRV_CRT=$BX_STATE/certs/server.crt
SRV_KEY=$BX_STATE/certs/server.key
PW_FILE=$BX_STATE/registry-password
HTPASSWD=$BX_STATE/$REG_NAME.htpasswd
NETRC=$BX_STATE/registry.netrc
REG_STORAGE=$BX_STATE/$REG_NAME
DOCKERD_LOG=$BX_STATE/dockerd.log
DOCKERD_PID=$BX_STATE/dockerd.pid
TRUST_STAMP=$BX_STATE/ca-trusted.stamp
SYS_CA=/usr/local/share/ca-certificates/bx-test-ca.crt
DAEMON_JSON=/etc/docker/daemon.json
ENV_SH=$BX_STATE/env.sh

install -d -m 0755 "$BX_STATE"
chmod 0755 "$BX_STATE"

# One start.sh at a time (tests may call it concurrently).
exec 9>"$BX_STATE/.start.lock"
flock -w 900 9 || bx_die "another start.sh holds $BX_STATE/.start.lock for 15 minutes; check 'fuser -v $BX_STATE/.start.lock'"

WORK=$(mktemp -d /tmp/bx-start.XXXXXX)
chmod 0700 "$WORK"
trap 'rm -rf "$WORK"' EXIT
CHANGED=0 # something (re)started or (re)built: run the smoke check

# ------------------------------------------------------------------ binfmt
if ! bash "$BX_ENV_DIR/binfmt.sh" status qemu-aarch64 >/dev/null 2>&1; then
    bash "$BX_ENV_DIR/binfmt.sh" register qemu-aarch64
    CHANGED=1
fi

# ------------------------------------------------------------------ PKI
bash "$BX_ENV_DIR/mkcert.sh" --init-ca
bash "$BX_ENV_DIR/mkcert.sh" server "DNS:$REG_HOST" "DNS:$HARBOR_HOST" "IP:$REG_IP" "IP:$HARBOR_IP" >/dev/null

# ------------------------------------------------------------------ /etc/hosts
ensure_host() { # IP NAME: exactly one line "IP NAME"; other mappings of NAME removed
    local ip=$1 name=$2
    if awk -v ip="$ip" -v n="$name" '$1 == ip && NF == 2 && $2 == n {f=1} END {exit !f}' /etc/hosts &&
        [ "$(awk -v n="$name" '!/^[[:space:]]*#/ {for (i = 2; i <= NF; i++) if ($i == n) c++} END {print c+0}' /etc/hosts)" = 1 ]; then
        return 0
    fi
    awk -v n="$name" '
        /^[[:space:]]*#/ {print; next}
        { keep = 1; for (i = 2; i <= NF; i++) if ($i == n) keep = 0; if (keep) print }' /etc/hosts >"$WORK/hosts"
    printf '%s %s\n' "$ip" "$name" >>"$WORK/hosts"
    # write in place: /etc/hosts may be a bind mount
    cat "$WORK/hosts" >/etc/hosts || bx_die "cannot write /etc/hosts (read-only?); add '$ip $name' to it by hand"
    bx_log "/etc/hosts: $ip $name"
}
ensure_host "$REG_IP" "$REG_HOST"
ensure_host "$HARBOR_IP" "$HARBOR_HOST"

# ------------------------------------------------------------------ CA trust (before dockerd)
if bx_copy_if_changed "$CA_CRT" "$SYS_CA" 0644 || ! grep -qF "$(sed -n 2p "$CA_CRT")" /etc/ssl/certs/ca-certificates.crt; then
    update-ca-certificates >/dev/null 2>&1 || bx_die "update-ca-certificates failed after adding $SYS_CA; run it by hand to see why"
    touch "$TRUST_STAMP"
    bx_log "test CA added to the system trust store ($SYS_CA)"
fi
for hp in "$REG" "$HARBOR_HOST:$HARBOR_PORT"; do
    install -d -m 0755 "/etc/docker/certs.d/$hp"
    bx_copy_if_changed "$CA_CRT" "/etc/docker/certs.d/$hp/ca.crt" 0644 || true
done

# ------------------------------------------------------------------ dockerd
install -d -m 0755 /etc/docker
DJ_CHANGED=0
if [ -e "$DAEMON_JSON" ]; then cp "$DAEMON_JSON" "$WORK/daemon.json.old"; else echo '{}' >"$WORK/daemon.json.old"; fi
$PY - "$WORK/daemon.json.old" "$WORK/daemon.json" <<'EOF' || bx_die "$DAEMON_JSON is not valid JSON (or not an object); fix or remove it and run start.sh again"
import json, sys
with open(sys.argv[1]) as f:
    txt = f.read().strip() or "{}"
cfg = json.loads(txt)
if not isinstance(cfg, dict):
    raise SystemExit(1)
feat = cfg.setdefault("features", {})
if not isinstance(feat, dict):
    raise SystemExit(1)
feat["containerd-snapshotter"] = True
with open(sys.argv[2], "w") as f:
    json.dump(cfg, f, indent=2, sort_keys=True)
    f.write("\n")
EOF
if ! $PY -c 'import json,sys; a=json.load(open(sys.argv[1])) if open(sys.argv[1]).read().strip() else {}; b=json.load(open(sys.argv[2])); sys.exit(0 if a==b else 1)' \
    "$WORK/daemon.json.old" "$WORK/daemon.json" 2>/dev/null; then
    bx_write_if_changed "$DAEMON_JSON" 0644 <"$WORK/daemon.json" || true
    DJ_CHANGED=1
    bx_log "$DAEMON_JSON: containerd-snapshotter enabled"
fi

docker_ok() { timeout 10 docker info >/dev/null 2>&1; }
snapshotter_on() {
    timeout 10 docker info -f '{{json .DriverStatus}}' 2>/dev/null | grep -q 'io.containerd.snapshotter.v1'
}
dockerd_pid() {
    local pid f
    for f in "$DOCKERD_PID" /var/run/docker.pid; do
        pid=$(bx_read_pidfile "$f") || continue
        bx_pid_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && { echo "$pid"; return 0; }
    done
    return 1
}
start_dockerd() {
    bx_log "starting dockerd (log $DOCKERD_LOG)"
    bx_spawn "$DOCKERD_PID" "$DOCKERD_LOG" dockerd
    local pid i
    pid=$(bx_read_pidfile "$DOCKERD_PID")
    for ((i = 0; i < 120; i++)); do
        if ! bx_pid_alive "$pid"; then
            bx_tail_log "$DOCKERD_LOG"
            bx_die "dockerd exited during start-up (see $DOCKERD_LOG, tail above); fix the cause and run start.sh again"
        fi
        docker_ok && break
        sleep 0.5
    done
    if ! docker_ok; then
        bx_tail_log "$DOCKERD_LOG"
        bx_die "dockerd (pid $pid) did not answer 'docker info' within 60s; see $DOCKERD_LOG (tail above)"
    fi
    snapshotter_on || bx_die "dockerd started but does not use the containerd image store (io.containerd.snapshotter.v1); check $DAEMON_JSON and $DOCKERD_LOG"
    bx_log "dockerd ready (pid $pid) in $((SECONDS - DSTART))s"
    CHANGED=1
}

DSTART=$SECONDS
if pid=$(dockerd_pid); then
    # Running: give a starting daemon time to answer.
    for ((i = 0; i < 120; i++)); do docker_ok && break; sleep 0.5; done
    docker_ok || {
        bx_tail_log "$DOCKERD_LOG"
        bx_die "dockerd pid $pid runs but does not answer 'docker info' for 60s; stop it (test/env/stop.sh) and run start.sh again"
    }
    why=""
    snapshotter_on || why="containerd-snapshotter not active"
    started=$(($(date +%s) - $(ps -o etimes= -p "$pid" | tr -d ' ')))
    if [ -f "$TRUST_STAMP" ] && [ "$(stat -c %Y "$TRUST_STAMP")" -gt "$started" ]; then
        why="${why:+$why; }test CA added to the system trust store after dockerd started"
    fi
    if [ "$DJ_CHANGED" -eq 1 ] && [ -z "$why" ]; then
        why="$DAEMON_JSON changed"
    fi
    if [ -n "$why" ]; then
        bx_log "restarting dockerd (pid $pid): $why"
        bx_stop_pid "$pid" dockerd 40
        start_dockerd
    else
        echo "$pid" >"$DOCKERD_PID"
        bx_log "dockerd already running (pid $pid) with the containerd image store"
    fi
elif docker_ok; then
    bx_die "a docker daemon answers on /var/run/docker.sock but no dockerd process was found (another runtime?); stop it and run start.sh again"
else
    start_dockerd
fi

# ------------------------------------------------------------------ Debian's own registry service
# The package's init script (config /etc/docker/registry/config.yml, :5000) must
# not run beside ours.
for pf in /var/run/docker-registry.pid /run/docker-registry.pid; do
    pid=$(bx_read_pidfile "$pf") || continue
    if bx_pid_alive "$pid" && bx_pid_cmdline_has "$pid" /etc/docker/registry/config.yml; then
        bx_stop_pid "$pid" "Debian's docker-registry service" 10
    fi
done
for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$(readlink "$d/exe" 2>/dev/null)" = /usr/bin/docker-registry ] || continue
    bx_pid_cmdline_has "$pid" /etc/docker/registry/config.yml || continue
    bx_stop_pid "$pid" "Debian's docker-registry service" 10
done

# ------------------------------------------------------------------ registry A credentials
if [ ! -s "$PW_FILE" ]; then
    (umask 077 && openssl rand -base64 48 | tr -dc 'A-Za-z0-9' | head -c 24 >"$PW_FILE.tmp")
    [ "$(wc -c <"$PW_FILE.tmp")" -eq 24 ] || bx_die "could not generate a registry password into $PW_FILE.tmp"
    mv -f "$PW_FILE.tmp" "$PW_FILE"
    bx_log "generated the password of $REG_USER in $PW_FILE"
fi
chmod 0600 "$PW_FILE"
REG_PW=$(cat "$PW_FILE") # shell variable only: never on a command line
[ -n "$REG_PW" ] || bx_die "$PW_FILE is empty; delete it and run start.sh again"
if [ ! -s "$HTPASSWD" ] || ! htpasswd -vi "$HTPASSWD" "$REG_USER" <"$PW_FILE" >/dev/null 2>&1; then
    (umask 077 && htpasswd -niB "$REG_USER" <"$PW_FILE" >"$HTPASSWD.tmp" 2>/dev/null) ||
        bx_die "htpasswd -niB could not hash the password of $REG_USER"
    grep -q "^$REG_USER:\\\$2y\\\$" "$HTPASSWD.tmp" || bx_die "htpasswd did not produce a bcrypt entry for $REG_USER in $HTPASSWD.tmp"
    chmod 0600 "$HTPASSWD.tmp"
    mv -f "$HTPASSWD.tmp" "$HTPASSWD"
    bx_log "wrote $HTPASSWD (bcrypt)"
fi
printf 'machine %s login %s password %s\n' "$REG_HOST" "$REG_USER" "$REG_PW" | bx_write_if_changed "$NETRC" 0600 || true

# ------------------------------------------------------------------ registry A
bash "$BX_ENV_DIR/registry.sh" start-htpasswd "$REG_NAME" "$REG_IP" "$REG_PORT" "$HTPASSWD" "$REG_STORAGE" "$SRV_CRT" "$SRV_KEY"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$CA_CRT" "https://$REG/v2/" || true)
[ "$code" = 401 ] || bx_die "https://$REG/v2/ answered '$code' instead of 401 with --cacert $CA_CRT (TLS name/CA or /etc/hosts problem); see $BX_STATE/$REG_NAME.log"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$CA_CRT" --netrc-file "$NETRC" "https://$REG/v2/" || true)
[ "$code" = 200 ] || bx_die "https://$REG/v2/ answered '$code' instead of 200 with the credentials in $NETRC; the htpasswd file $HTPASSWD and $PW_FILE disagree (delete $HTPASSWD and run start.sh again)"

# ------------------------------------------------------------------ temporary docker config
export DOCKER_CONFIG=$WORK/docker
install -d -m 0700 "$DOCKER_CONFIG"
AUTH=$(printf '%s:%s' "$REG_USER" "$REG_PW" | base64 -w0)
(umask 077 && printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG" "$AUTH" >"$DOCKER_CONFIG/config.json")
unset AUTH

reg_api() { # PATH [curl args...]: GET on registry A with the netrc credentials
    local p=$1
    shift
    curl -s --max-time 20 --cacert "$CA_CRT" --netrc-file "$NETRC" "$@" "https://$REG/v2/$p"
}
ACCEPT_INDEX='application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json'

# ------------------------------------------------------------------ base images
build_rootfs() { # DIR BUSYBOX_BINARY RUNNER...: rootfs with busybox + applet symlinks
    local dir=$1 bb=$2
    shift 2
    install -d -m 0755 "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,var,run}
    install -d -m 1777 "$dir/tmp"
    install -m 0755 "$bb" "$dir/bin/busybox"
    local applets
    # The applet list from the binary itself (the arm64 one run through
    # qemu-aarch64-static directly, which needs no binfmt); a fixed list if
    # that fails.
    applets=$("$@" "$bb" --list-full 2>/dev/null || true)
    if [ -z "$applets" ]; then
        applets=$(printf 'bin/%s\n' sh ash cat cp date dd df echo false grep gunzip gzip hostname kill ln ls mkdir \
            mktemp mount mv ps pwd rm rmdir sed sleep sync tar touch true umount uname vi zcat)
        applets+=$'\n'$(printf 'usr/bin/%s\n' awk basename cut dirname du env expr find head id md5sum nproc printf \
            readlink realpath seq sha256sum sort stat tail tee test tr uniq wc wget which xargs yes '[' '[[')
    fi
    local a
    while IFS= read -r a; do
        [ -n "$a" ] || continue
        case $a in */busybox | /* | *..*) continue ;; esac
        [ -e "$dir/$a" ] || [ -L "$dir/$a" ] || ln -s /bin/busybox "$dir/$a"
    done <<<"$applets"
    [ -L "$dir/bin/sh" ] || ln -s /bin/busybox "$dir/bin/sh"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
    find "$dir" -exec touch -h -d @0 {} +
}

import_push() { # ARCH ROOTFS
    local arch=$1 dir=$2 ref=$REG/$IMG_REPO:$1
    tar -C "$dir" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$WORK/$arch.tar" . ||
        bx_die "tar of the $arch rootfs in $dir failed"
    docker import --platform "linux/$arch" \
        --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        "$WORK/$arch.tar" "$ref" >/dev/null || bx_die "docker import of the $arch busybox rootfs as $ref failed; see $DOCKERD_LOG"
    docker push -q "$ref" >/dev/null || bx_die "docker push $ref failed (registry log: $BX_STATE/$REG_NAME.log)"
    bx_log "pushed $ref"
}

index_platforms() { # TAG -> "linux/amd64 linux/arm64 ..." (empty if not an index)
    reg_api "$IMG_REPO/manifests/$1" -H "Accept: $ACCEPT_INDEX" | $PY -c '
import json, sys
try:
    m = json.load(sys.stdin)
except Exception:
    sys.exit(0)
ps = sorted("%s/%s%s" % (d["platform"]["os"], d["platform"]["architecture"],
            "/" + d["platform"]["variant"] if d["platform"].get("variant") else "")
            for d in m.get("manifests", []) if "platform" in d)
print(" ".join(ps))'
}

code=$(reg_api "$IMG_REPO/manifests/multi" -o /dev/null -w '%{http_code}' -I -H "Accept: $ACCEPT_INDEX" || true)
if [ "$code" = 200 ]; then
    bx_log "$BASE_IMAGE already in the registry"
else
    [ "$code" = 404 ] || bx_die "registry API HEAD $IMG_REPO/manifests/multi answered '$code' (expected 200 or 404); see $BX_STATE/$REG_NAME.log"
    shopt -s nullglob
    arm_debs=("$BX_STATE"/debs/busybox-static_*_arm64.deb)
    shopt -u nullglob
    [ "${#arm_debs[@]}" -ge 1 ] || bx_die "no busybox-static arm64 .deb in $BX_STATE/debs; run test/env/install.sh first"
    [ -x /bin/busybox ] || bx_die "/bin/busybox (busybox-static) missing; run test/env/install.sh first"
    dpkg-deb -x "${arm_debs[0]}" "$WORK/arm64-deb" || bx_die "dpkg-deb -x ${arm_debs[0]} failed; delete it and run install.sh again"
    [ -f "$WORK/arm64-deb/bin/busybox" ] || bx_die "${arm_debs[0]} has no bin/busybox"
    build_rootfs "$WORK/rootfs-amd64" /bin/busybox
    build_rootfs "$WORK/rootfs-arm64" "$WORK/arm64-deb/bin/busybox" /usr/bin/qemu-aarch64-static
    import_push amd64 "$WORK/rootfs-amd64"
    import_push arm64 "$WORK/rootfs-arm64"
    docker buildx imagetools create -t "$BASE_IMAGE" "$REG/$IMG_REPO:amd64" "$REG/$IMG_REPO:arm64" >"$WORK/imagetools.log" 2>&1 || {
        cat "$WORK/imagetools.log" >&2
        bx_die "docker buildx imagetools create -t $BASE_IMAGE failed (output above)"
    }
    bx_log "created $BASE_IMAGE"
    CHANGED=1
fi
plats=$(index_platforms multi)
case " $plats " in *" linux/amd64 "*) ;; *) bx_die "$BASE_IMAGE in the registry lacks linux/amd64 (platforms: '${plats}'); delete $REG_STORAGE and run start.sh again" ;; esac
case " $plats " in *" linux/arm64 "*) ;; *) bx_die "$BASE_IMAGE in the registry lacks linux/arm64 (platforms: '${plats}'); delete $REG_STORAGE and run start.sh again" ;; esac
bx_log "$BASE_IMAGE platforms: $plats"

# ------------------------------------------------------------------ arm64 smoke check
SMOKE_STAMP=$BX_STATE/smoke.ok
if [ "$CHANGED" -eq 1 ] || [ ! -f "$SMOKE_STAMP" ]; then
    rm -f "$SMOKE_STAMP"
    out=$(docker run --rm --platform linux/arm64 "$REG/$IMG_REPO:arm64" uname -m 2>&1 | tr -d '\r') || true
    [ "$out" = aarch64 ] || bx_die "arm64 smoke check: 'docker run --platform linux/arm64 $REG/$IMG_REPO:arm64 uname -m' printed '$out' instead of aarch64; check 'test/env/binfmt.sh status qemu-aarch64' and $DOCKERD_LOG"
    out=$(docker run --rm --platform linux/amd64 "$REG/$IMG_REPO:amd64" uname -m 2>&1 | tr -d '\r') || true
    [ "$out" = x86_64 ] || bx_die "amd64 smoke check: 'docker run $REG/$IMG_REPO:amd64 uname -m' printed '$out' instead of x86_64; see $DOCKERD_LOG"
    touch "$SMOKE_STAMP"
    bx_log "smoke check: arm64 container says aarch64, amd64 says x86_64"
fi

# ------------------------------------------------------------------ env.sh
bx_write_if_changed "$ENV_SH" 0644 <<EOF || true
# Written by buildx-executor test/env/start.sh. Source it; it holds no secret.
export BX_TEST_STATE=$BX_STATE
export BX_TEST_ENV_DIR=$BX_ENV_DIR
export BX_TEST_CA=$CA_CRT
export BX_TEST_CA_KEY=$CA_KEY
export BX_TEST_SERVER_CERT=$SRV_CRT
export BX_TEST_SERVER_KEY=$SRV_KEY
export BX_TEST_REGISTRY=$REG
export BX_TEST_REGISTRY_USER=$REG_USER
export BX_TEST_REGISTRY_PASSWORD_FILE=$PW_FILE
export BX_TEST_REGISTRY_NETRC=$NETRC
export BX_TEST_BASE_IMAGE=$BASE_IMAGE
export BX_TEST_DOCKER_SOCK=/var/run/docker.sock
export BX_TEST_HARBOR_HOST=$HARBOR_HOST
export BX_TEST_HARBOR_IP=$HARBOR_IP
export BX_TEST_HARBOR_PORT=$HARBOR_PORT
EOF
chmod 0644 "$ENV_SH"

bx_log "ready in $((SECONDS - T0))s; source $ENV_SH"

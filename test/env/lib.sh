# shellcheck shell=bash
# Shared helpers for the test-environment scripts in test/env/.
# Sourced, never executed. Callers use `set -Eeuo pipefail` and call bx_init.

# shellcheck disable=SC2034 # used by the scripts that source this file
BX_STATE=${BX_TEST_STATE:-/var/lib/bx-test}
# shellcheck disable=SC2034
BX_ENV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BX_PROG=$(basename "$0")

# Everything that talks to dockerd uses the local socket, whatever the caller's
# environment says.
export DOCKER_HOST=unix:///var/run/docker.sock
unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH || true
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}

bx_log() { printf '[%s] %s\n' "$BX_PROG" "$*" >&2; }

# One clear line: what failed, on what, what to do.
bx_die() {
    printf '[%s] FAILED: %s\n' "$BX_PROG" "$*" >&2
    exit 1
}

bx_on_err() {
    local rc=$1 line=$2 cmd=$3
    # shellcheck disable=SC2016 # literal backquotes around the command
    printf '[%s] FAILED: command `%s` exited %s (%s line %s); see the messages above, fix the cause and run %s again\n' \
        "$BX_PROG" "$cmd" "$rc" "$BX_PROG" "$line" "$BX_PROG" >&2
    exit "$rc"
}

bx_init() {
    trap 'bx_on_err $? $LINENO "$BASH_COMMAND"' ERR
    [ "$(id -u)" -eq 0 ] || bx_die "$BX_PROG must run as root (it installs packages / starts daemons); run it with sudo or as root"
}

bx_need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 ||
            bx_die "command '$c' not found; run test/env/install.sh first"
    done
}

# Is PID alive (and not a zombie)?
bx_pid_alive() {
    local pid=$1 st
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
    st=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || return 1
    [ "$st" != Z ]
}

# Does /proc/PID/cmdline contain STRING (as a substring of the NUL-joined args)?
bx_pid_cmdline_has() {
    local pid=$1 s=$2
    [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$s"
}

bx_read_pidfile() {
    local f=$1 pid
    [ -f "$f" ] || return 1
    pid=$(tr -dc '0-9' <"$f")
    [ -n "$pid" ] || return 1
    printf '%s\n' "$pid"
}

# Gentle stop of one pid: TERM, wait up to WAIT seconds, then KILL.
bx_stop_pid() {
    local pid=$1 what=$2 wait=${3:-15} i
    bx_pid_alive "$pid" || return 0
    bx_log "stopping $what (pid $pid): TERM"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < wait * 5; i++)); do
        bx_pid_alive "$pid" || return 0
        sleep 0.2
    done
    bx_log "$what (pid $pid) still alive after ${wait}s: KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 25; i++)); do
        bx_pid_alive "$pid" || return 0
        sleep 0.2
    done
    bx_die "could not stop $what (pid $pid) even with SIGKILL; inspect it with 'ps -o pid,stat,cmd -p $pid'"
}

# Write CONTENT (stdin) to FILE with MODE only if it differs. Returns 0 if the
# file changed, 1 if it was already identical.
bx_write_if_changed() {
    local file=$1 mode=$2 tmp
    tmp=$(mktemp "$file.tmp.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    if [ -f "$file" ] && cmp -s "$tmp" "$file"; then
        rm -f "$tmp"
        chmod "$mode" "$file"
        return 1
    fi
    mv -f "$tmp" "$file"
    return 0
}

# Copy SRC to DST (mode MODE) only if different. Returns 0 if changed.
bx_copy_if_changed() {
    local src=$1 dst=$2 mode=$3
    bx_write_if_changed "$dst" "$mode" <"$src"
}

bx_tail_log() {
    local f=$1 n=${2:-25}
    if [ -f "$f" ]; then
        printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
        tail -n "$n" "$f" >&2 || true
        printf -- '----- end of %s -----\n' "$f" >&2
    fi
}

# Start a detached daemon: own session, stdin /dev/null, output to LOG (the
# previous log is kept as LOG.1), pid written by the daemon process itself
# (bash writes $$ and then execs, so the pid stays the same whether or not
# setsid had to fork).
bx_spawn() {
    local pidfile=$1 log=$2
    shift 2
    [ -f "$log" ] && mv -f "$log" "$log.1"
    rm -f "$pidfile"
    # The wrapper closes every inherited descriptor above 2 (lock files, the
    # caller's pipes) so that the daemon holds nothing of its caller.
    # shellcheck disable=SC2016
    setsid bash -c '
        for f in /proc/$$/fd/*; do
            n=${f##*/}
            if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-"; fi
        done
        echo $$ >"$0"
        exec "$@"' "$pidfile" "$@" >"$log" 2>&1 </dev/null &
    local i
    for ((i = 0; i < 50; i++)); do
        [ -s "$pidfile" ] && return 0
        sleep 0.1
    done
    bx_die "could not start '$*' (no pid file $pidfile after 5s); see $log"
}

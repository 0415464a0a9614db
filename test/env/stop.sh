#!/usr/bin/env bash
# Stops what start.sh started: every registry instance with a pid file in
# $BX_TEST_STATE, then dockerd (which stops its containers and its managed
# containerd). Gentle: TERM, wait, KILL. Leaves the state dir, the images in the
# registry storage, the CA and the binfmt handler in place (binfmt.sh
# unregister qemu-aarch64 removes that). For developers; CI does not need it.
set -Eeuo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bx_init

shopt -s nullglob
for pf in "$BX_STATE"/*.pid; do
    name=$(basename "$pf" .pid)
    [ "$name" = dockerd ] && continue
    if pid=$(bx_read_pidfile "$pf") && bx_pid_alive "$pid" && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = /usr/bin/docker-registry ]; then
        bash "$BX_ENV_DIR/registry.sh" stop "$name"
    else
        rm -f "$pf" "$BX_STATE/$name.stamp"
    fi
done
shopt -u nullglob

stopped=0
for pf in "$BX_STATE/dockerd.pid" /var/run/docker.pid; do
    pid=$(bx_read_pidfile "$pf") || continue
    if bx_pid_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
        bx_stop_pid "$pid" dockerd 40
        stopped=1
    fi
done
rm -f "$BX_STATE/dockerd.pid" "$BX_STATE/smoke.ok"
[ "$stopped" -eq 1 ] || bx_log "dockerd was not running"
bx_log "stopped"

#!/usr/bin/env bash
# Register / unregister one QEMU binfmt_misc handler from Debian's
# /usr/lib/binfmt.d/NAME.conf (qemu-user-static). Registration is host-wide.
#
#   binfmt.sh register NAME     e.g. qemu-aarch64; no-op if already registered,
#                               enabled and fix-binary (F); an entry without F
#                               or disabled is fixed.
#   binfmt.sh unregister NAME   no-op if not registered
#   binfmt.sh status NAME       prints the entry; exit 0 if enabled with F,
#                               1 if missing/disabled/without F
#
# Exit status 0 on success; failures print one line.
set -Eeuo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bx_init

MNT=/proc/sys/fs/binfmt_misc

usage() { bx_die "usage: binfmt.sh register|unregister|status NAME (e.g. qemu-aarch64)"; }
[ $# -eq 2 ] || usage
CMD=$1 NAME=$2
case $NAME in '' | */* | .*) bx_die "invalid binfmt handler name '$NAME'" ;; esac

ensure_mounted() {
    [ -e "$MNT/register" ] && return 0
    mount -t binfmt_misc binfmt_misc "$MNT" 2>/dev/null ||
        bx_die "cannot mount binfmt_misc on $MNT (needs root in the initial namespace and CONFIG_BINFMT_MISC); check 'dmesg' / run outside a container"
    [ -e "$MNT/register" ] || bx_die "binfmt_misc mounted but $MNT/register missing; check the kernel's binfmt_misc support"
}

# 0 if the entry exists, is enabled and has the F flag.
entry_ok() {
    local e=$MNT/$NAME
    [ -f "$e" ] || return 1
    [ "$(head -n1 "$e")" = enabled ] || return 1
    grep -qE '^flags: .*F' "$e"
}

unregister() {
    [ -e "$MNT/$NAME" ] || return 0
    echo -1 >"$MNT/$NAME" 2>/dev/null || bx_die "cannot remove binfmt handler $NAME (write -1 to $MNT/$NAME failed)"
    [ ! -e "$MNT/$NAME" ] || bx_die "binfmt handler $NAME still present after writing -1 to $MNT/$NAME"
}

register() {
    local conf=/usr/lib/binfmt.d/$NAME.conf line interp flags
    if entry_ok; then
        return 0
    fi
    [ -f "$conf" ] || bx_die "$conf not found; install qemu-user-static (test/env/install.sh) or check the handler name"
    line=$(grep -vE '^[[:space:]]*([#;]|$)' "$conf" | head -n1)
    [ -n "$line" ] || bx_die "no registration line in $conf"
    # Fields: :name:type:offset:magic:mask:interpreter:flags (delimiter = 1st char)
    local d=${line:0:1}
    IFS="$d" read -r _ _ _ _ _ _ interp flags <<<"$line"
    [ -x "$interp" ] || bx_die "interpreter $interp from $conf is missing; apt-get install --reinstall qemu-user-static"
    case $flags in *F*) ;; *) bx_die "$conf has flags '$flags' without F (fix-binary); the handler would not work inside containers" ;; esac
    if [ -e "$MNT/$NAME" ]; then
        bx_log "binfmt handler $NAME present but disabled or without F; re-registering"
        unregister
    fi
    printf '%s' "$line" >"$MNT/register" 2>/dev/null ||
        bx_die "writing $conf's line to $MNT/register failed (EEXIST: another handler with the same magic? see 'ls $MNT')"
    entry_ok || bx_die "binfmt handler $NAME not enabled with F after registration; see 'cat $MNT/$NAME'"
    bx_log "binfmt handler $NAME registered ($interp, flags $flags)"
}

case $CMD in
register)
    ensure_mounted
    register
    ;;
unregister)
    ensure_mounted
    unregister
    ;;
status)
    ensure_mounted
    if [ -f "$MNT/$NAME" ]; then cat "$MNT/$NAME"; else echo "$NAME: not registered"; fi
    if entry_ok; then exit 0; else exit 1; fi
    ;;
*) usage ;;
esac

#!/usr/bin/env bash
# Run Debian's docker-registry (distribution 2.8) instances for the tests, with
# TLS, detached (setsid, stdin /dev/null, output to a log). Files per NAME in
# $BX_TEST_STATE: NAME.yml (config, 0600), NAME.log, NAME.pid, NAME.stamp.
#
#   registry.sh start-htpasswd NAME ADDR PORT HTPASSWD_FILE STORAGE_DIR [CERT KEY]
#   registry.sh start-token NAME ADDR PORT REALM ISSUER SERVICE ROOTCERTBUNDLE STORAGE_DIR [CERT KEY]
#   registry.sh stop NAME
#   registry.sh status NAME      exit 0 if running and answering /v2/
#
# CERT/KEY default to the shared server certificate ($BX_TEST_STATE/certs/server.crt
# and .key, SANs registry.test, harbor.test, 127.0.0.2, 127.0.0.3; see mkcert.sh).
# start-* is idempotent: an instance already running with the same config and
# the same referenced files (htpasswd / root bundle / cert / key) is left alone;
# if any of them changed it is restarted. Readiness = GET https://ADDR:PORT/v2/
# answers 401 (both auth modes demand credentials).
set -Eeuo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bx_init

REGISTRY_BIN=/usr/bin/docker-registry
READY_TIMEOUT=${BX_REGISTRY_READY_TIMEOUT:-30}

usage() {
    bx_die "usage: registry.sh start-htpasswd NAME ADDR PORT HTPASSWD STORAGE [CERT KEY] | start-token NAME ADDR PORT REALM ISSUER SERVICE ROOTCERTBUNDLE STORAGE [CERT KEY] | stop NAME | status NAME"
}

check_name() {
    case $1 in '' | */* | .* | *[!A-Za-z0-9._-]*) bx_die "invalid registry instance name '$1' (letters, digits, . _ - only)" ;; esac
}

paths() {
    CONF=$BX_STATE/$NAME.yml
    LOG=$BX_STATE/$NAME.log
    PIDF=$BX_STATE/$NAME.pid
    STAMP=$BX_STATE/$NAME.stamp
}

# pid of the running instance NAME, if any (pid file + the process really is
# docker-registry serving our config).
running_pid() {
    local pid
    pid=$(bx_read_pidfile "$PIDF") || return 1
    bx_pid_alive "$pid" || return 1
    bx_pid_cmdline_has "$pid" "serve $CONF" || return 1
    printf '%s\n' "$pid"
}

probe_url() {
    local a=$ADDR
    case $a in 0.0.0.0 | '') a=127.0.0.1 ;; ::) a='[::1]' ;; *:*) a="[$a]" ;; esac
    printf 'https://%s:%s/v2/' "$a" "$PORT"
}

# HTTP status of /v2/ (000 if no answer). -k: this is only a liveness probe of
# our own process; start.sh verifies the real chain with the CA and host name.
probe() {
    curl -sk -o /dev/null -w '%{http_code}' --max-time 3 "$(probe_url)" 2>/dev/null || true
}

stop_instance() {
    local pid
    if pid=$(running_pid); then
        bx_stop_pid "$pid" "registry $NAME" 15
    fi
    rm -f "$PIDF" "$STAMP"
}

yaml_q() { # single-quoted YAML scalar
    local s=${1//\'/\'\'}
    printf "'%s'" "$s"
}

start_common() {
    local auth_yaml=$1
    shift
    local watched=("$@") # files whose content is part of the stamp
    [ -x "$REGISTRY_BIN" ] || bx_die "$REGISTRY_BIN missing; run test/env/install.sh"
    if ! [[ $PORT =~ ^[0-9]+$ ]] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
        bx_die "invalid port '$PORT' for registry $NAME"
    fi
    [ -r "$CERT" ] || bx_die "TLS certificate $CERT for registry $NAME not readable; run test/env/start.sh (or mkcert.sh) first"
    [ -r "$KEY" ] || bx_die "TLS key $KEY for registry $NAME not readable; run test/env/start.sh (or mkcert.sh) first"
    install -d -m 0755 "$BX_STATE" "$STORAGE"

    local listen=$ADDR
    case $listen in *:*) listen="[$listen]" ;; esac
    local new
    new=$(mktemp "$BX_STATE/.$NAME.yml.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -f '$new'" EXIT
    chmod 0600 "$new"
    cat >"$new" <<EOF
# Written by buildx-executor test/env/registry.sh; do not edit (rewritten on start).
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
  fields:
    service: registry
    instance: $(yaml_q "$NAME")
storage:
  filesystem:
    rootdirectory: $(yaml_q "$STORAGE")
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $(yaml_q "$listen:$PORT")
  tls:
    certificate: $(yaml_q "$CERT")
    key: $(yaml_q "$KEY")
  headers:
    X-Content-Type-Options: [nosniff]
auth:
$auth_yaml
EOF
    local stamp
    stamp=$(cat "$new" "${watched[@]}" "$CERT" "$KEY" | sha256sum | cut -d' ' -f1)

    local pid
    if pid=$(running_pid) && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$stamp" ] && cmp -s "$new" "$CONF"; then
        rm -f "$new"
        local i code
        for ((i = 0; i < 10; i++)); do
            code=$(probe)
            if [ "$code" = 401 ]; then
                bx_log "registry $NAME already running (pid $pid) on $ADDR:$PORT"
                return 0
            fi
            sleep 0.5
        done
        bx_log "registry $NAME (pid $pid) runs but /v2/ answers '$code', not 401; restarting it"
    fi

    stop_instance
    # Somebody else on the port?
    local holder
    holder=$(ss -Hltnp "sport = :$PORT" 2>/dev/null | awk -v a="$ADDR:$PORT" -v b="[$ADDR]:$PORT" \
        '$4 == a || $4 == b || $4 ~ /^(0\.0\.0\.0|\*|\[::\]):/ {print $4, $6}' | head -n1)
    [ -z "$holder" ] || bx_die "cannot start registry $NAME: $ADDR:$PORT is already in use ($holder); stop that process or pick another port"

    mv -f "$new" "$CONF"
    bx_spawn "$PIDF" "$LOG" "$REGISTRY_BIN" serve "$CONF"
    pid=$(bx_read_pidfile "$PIDF")
    local i code=000
    for ((i = 0; i < READY_TIMEOUT * 4; i++)); do
        if ! bx_pid_alive "$pid"; then
            bx_tail_log "$LOG"
            rm -f "$PIDF"
            bx_die "registry $NAME exited right after start (see $LOG, tail above); fix its config $CONF or the files it references"
        fi
        code=$(probe)
        [ "$code" = 401 ] && break
        sleep 0.25
    done
    if [ "$code" != 401 ]; then
        bx_tail_log "$LOG"
        bx_die "registry $NAME (pid $pid) did not answer 401 on $(probe_url) within ${READY_TIMEOUT}s (last status '$code'); see $LOG"
    fi
    printf '%s\n' "$stamp" >"$STAMP"
    bx_log "registry $NAME started (pid $pid) on $ADDR:$PORT, log $LOG"
}

[ $# -ge 2 ] || usage
CMD=$1
NAME=$2
check_name "$NAME"
paths
DEF_CERT=$BX_STATE/certs/server.crt
DEF_KEY=$BX_STATE/certs/server.key

case $CMD in
start-htpasswd)
    [ $# -eq 6 ] || [ $# -eq 8 ] || usage
    ADDR=$3 PORT=$4 HTPASSWD=$5 STORAGE=$6
    CERT=${7:-$DEF_CERT} KEY=${8:-$DEF_KEY}
    [ -s "$HTPASSWD" ] || bx_die "htpasswd file '$HTPASSWD' for registry $NAME missing or empty (make it with 'htpasswd -niB USER < PASSWORD_FILE')"
    start_common "  htpasswd:
    realm: $(yaml_q "bx-test-$NAME")
    path: $(yaml_q "$HTPASSWD")" "$HTPASSWD"
    ;;
start-token)
    [ $# -eq 9 ] || [ $# -eq 11 ] || usage
    ADDR=$3 PORT=$4 REALM=$5 ISSUER=$6 SERVICE=$7 BUNDLE=$8 STORAGE=$9
    CERT=${10:-$DEF_CERT} KEY=${11:-$DEF_KEY}
    [ -s "$BUNDLE" ] || bx_die "root certificate bundle '$BUNDLE' for registry $NAME missing or empty (the token issuer's signing certificate, PEM)"
    case $REALM in http://* | https://*) ;; *) bx_die "token realm '$REALM' for registry $NAME must be an http(s) URL" ;; esac
    start_common "  token:
    realm: $(yaml_q "$REALM")
    service: $(yaml_q "$SERVICE")
    issuer: $(yaml_q "$ISSUER")
    rootcertbundle: $(yaml_q "$BUNDLE")" "$BUNDLE"
    ;;
stop)
    [ $# -eq 2 ] || usage
    stop_instance
    ;;
status)
    [ $# -eq 2 ] || usage
    if pid=$(running_pid); then
        echo "registry $NAME: running, pid $pid, config $CONF"
        exit 0
    fi
    echo "registry $NAME: not running"
    exit 1
    ;;
*) usage ;;
esac

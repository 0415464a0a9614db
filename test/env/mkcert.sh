#!/usr/bin/env bash
# Test PKI (EC P-256).
#
#   mkcert.sh --init-ca
#       Create the test CA ($BX_TEST_STATE/ca/ca.crt + ca.key, 10 years) if it
#       is missing, invalid or expires within 30 days. start.sh calls this.
#   mkcert.sh [-d OUTDIR] NAME SAN...
#       Sign a server certificate with the test CA: OUTDIR/NAME.crt and
#       OUTDIR/NAME.key (0600); OUTDIR defaults to $BX_TEST_STATE/certs.
#       SAN is DNS:host, IP:addr, or a bare host/address (auto-detected).
#       Kept as is when it already exists with the same SANs, verifies against
#       the current CA and is valid for 30 more days; otherwise re-issued.
#       Prints the certificate path and the key path, one per line.
set -Eeuo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bx_init
bx_need_cmd openssl

CA_DIR=$BX_STATE/ca
CA_CRT=$CA_DIR/ca.crt
CA_KEY=$CA_DIR/ca.key
MIN_VALID=$((30 * 86400))

usage() { bx_die "usage: mkcert.sh --init-ca | mkcert.sh [-d OUTDIR] NAME SAN... (SAN: DNS:name, IP:addr or a bare name/address)"; }

ca_ok() {
    [ -s "$CA_CRT" ] && [ -s "$CA_KEY" ] || return 1
    openssl x509 -in "$CA_CRT" -noout -checkend "$MIN_VALID" >/dev/null 2>&1 || return 1
    # key matches certificate
    [ "$(openssl x509 -in "$CA_CRT" -noout -pubkey 2>/dev/null)" = "$(openssl pkey -in "$CA_KEY" -pubout 2>/dev/null)" ]
}

init_ca() {
    install -d -m 0755 "$BX_STATE" "$CA_DIR"
    if ca_ok; then return 0; fi
    bx_log "creating test CA $CA_CRT"
    local tmpk tmpc
    tmpk=$(mktemp "$CA_DIR/.ca.key.XXXXXX")
    tmpc=$(mktemp "$CA_DIR/.ca.crt.XXXXXX")
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmpk" 2>/dev/null) ||
        bx_die "openssl could not generate the CA key in $CA_DIR"
    openssl req -x509 -new -key "$tmpk" -sha256 -days 3650 -subj "/O=buildx-executor tests/CN=bx-test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
        -addext "subjectKeyIdentifier=hash" -out "$tmpc" 2>/dev/null ||
        bx_die "openssl could not create the CA certificate in $CA_DIR"
    chmod 0600 "$tmpk"
    chmod 0644 "$tmpc"
    mv -f "$tmpk" "$CA_KEY"
    mv -f "$tmpc" "$CA_CRT"
}

if [ "${1:-}" = --init-ca ]; then
    [ $# -eq 1 ] || usage
    init_ca
    exit 0
fi

OUT=$BX_STATE/certs
if [ "${1:-}" = -d ]; then
    [ $# -ge 2 ] || usage
    OUT=$2
    shift 2
fi
[ $# -ge 2 ] || usage
NAME=$1
shift
case $NAME in '' | */* | .*) bx_die "invalid certificate name '$NAME' (a plain file name is expected)" ;; esac
ca_ok || bx_die "test CA $CA_CRT missing, invalid or expiring; run test/env/start.sh (or mkcert.sh --init-ca) first"

sans=()
for s in "$@"; do
    case $s in
    DNS:?* | IP:?*) sans+=("$s") ;;
    *:*:* | [0-9]*.[0-9]*.[0-9]*.[0-9]*)
        # IPv6 (two colons or more) or dotted IPv4
        if [[ $s =~ ^[0-9.]+$ || $s == *:*:* ]]; then sans+=("IP:$s"); else sans+=("DNS:$s"); fi
        ;;
    *:*) bx_die "SAN '$s' not understood; use DNS:name or IP:address" ;;
    *) sans+=("DNS:$s") ;;
    esac
done
SAN_LINE=$(IFS=,; echo "${sans[*]}")
CN=${sans[0]#*:}

install -d -m 0755 "$OUT"
CRT=$OUT/$NAME.crt
KEY=$OUT/$NAME.key
SANF=$OUT/$NAME.san

if [ -s "$CRT" ] && [ -s "$KEY" ] && [ -f "$SANF" ] && [ "$(cat "$SANF")" = "$SAN_LINE" ] &&
    openssl verify -CAfile "$CA_CRT" "$CRT" >/dev/null 2>&1 &&
    openssl x509 -in "$CRT" -noout -checkend "$MIN_VALID" >/dev/null 2>&1 &&
    [ "$(openssl x509 -in "$CRT" -noout -pubkey 2>/dev/null)" = "$(openssl pkey -in "$KEY" -pubout 2>/dev/null)" ]; then
    printf '%s\n%s\n' "$CRT" "$KEY"
    exit 0
fi

bx_log "issuing $CRT for $SAN_LINE"
work=$(mktemp -d "$OUT/.mkcert.XXXXXX")
trap 'rm -rf "$work"' EXIT
(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/key" 2>/dev/null) ||
    bx_die "openssl could not generate a key for $NAME in $OUT"
openssl req -new -key "$work/key" -subj "/O=buildx-executor tests/CN=$CN" -out "$work/csr" 2>/dev/null ||
    bx_die "openssl could not create a CSR for $NAME"
cat >"$work/ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$SAN_LINE
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
openssl x509 -req -in "$work/csr" -CA "$CA_CRT" -CAkey "$CA_KEY" -set_serial "0x$(openssl rand -hex 16)" \
    -days 825 -sha256 -extfile "$work/ext" -out "$work/crt" 2>/dev/null ||
    bx_die "openssl could not sign the certificate for $NAME with $CA_CRT"
openssl verify -CAfile "$CA_CRT" "$work/crt" >/dev/null 2>&1 || bx_die "freshly signed $NAME certificate does not verify against $CA_CRT"
chmod 0600 "$work/key"
chmod 0644 "$work/crt"
mv -f "$work/key" "$KEY"
mv -f "$work/crt" "$CRT"
printf '%s\n' "$SAN_LINE" >"$SANF"
printf '%s\n%s\n' "$CRT" "$KEY"

#!/bin/bash
# Self-test of test/fakes/harbor-standin against a real docker-registry
# (distribution 2.8, Debian package) running with `auth: token`.
#
#   test/fakes/selftest.sh            # KEEP=1 keeps the temp dir for inspection
#
# Uses only curl for HTTP; credentials go through curl -K files, form files
# and header files, never through argv. Last line: "N passed, N failed".
# Exit status is non-zero if anything failed.

# shellcheck disable=SC2016 # single-quoted robot$... names are literal on purpose
set -u
umask 077

HERE=$(cd "$(dirname "$0")" && pwd)
STANDIN=$HERE/harbor-standin
REGISTRY=${DOCKER_REGISTRY:-/usr/bin/docker-registry}
T=$(mktemp -d /tmp/standin-selftest.XXXXXX)
PASS=0
FAIL=0
STANDIN_PID=
REGISTRY_PID=

stop_pid() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

cleanup() {
	stop_pid "$REGISTRY_PID"
	stop_pid "$STANDIN_PID"
	if [ -n "${KEEP:-}" ]; then
		echo "# kept $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'bad "interrupted by a signal"; echo "$PASS passed, $FAIL failed"; exit 130' INT TERM HUP

ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad() {
	FAIL=$((FAIL + 1)); echo "FAIL - $1"
	[ -z "${2:-}" ] || echo "       $2"
}
# expect NAME WANT GOT
expect() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "want [$2], got [$3]"; fi
}
fatal() {
	bad "$1"
	echo "--- stand-in stderr (tail)"; tail -n 20 "$T/standin.err" 2>/dev/null
	echo "--- registry log (tail)"; tail -n 20 "$T/registry.log" 2>/dev/null
	echo "$PASS passed, $FAIL failed"
	exit 1
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# pyj FILE EXPR: evaluate a Python expression over the JSON in FILE (as d)
pyj() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
v = eval(sys.argv[2], {"d": d})
print(v if isinstance(v, (str, bool, int)) else json.dumps(v))
EOF
}

# jwt_part TOKENRESPONSE_FILE header|claims [field]: decode the JWT in a token response
jwt_part() {
	python3 - "$1" "$2" <<'EOF'
import base64, json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
tok = d.get("token") or d.get("access_token")
part = tok.split(".")[0 if sys.argv[2] == "header" else 1]
print(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode())
EOF
}

# actions TOKENRESPONSE_FILE: "type:name:a,b;..." of the access claim
actions() {
	jwt_part "$1" claims > "$T/claims.json"
	pyj "$T/claims.json" '";".join("%s:%s:%s" % (a["type"], a["name"], ",".join(a["actions"])) for a in d["access"])'
}

# mkcred NAME USER PASS: a curl config file holding basic-auth credentials
mkcred() {
	local u=${2//\\/\\\\} p=${3//\\/\\\\}
	u=${u//\"/\\\"}; p=${p//\"/\\\"}
	printf 'user = "%s:%s"\n' "$u" "$p" > "$T/cred.$1"
}

# mkform FILE USER PASS SCOPE: OAuth2 password-grant form body in FILE
mkform() {
	printf '%s\n%s\n%s\n' "$2" "$3" "$4" | python3 -c '
import sys, urllib.parse
u, p, s = sys.stdin.read().split("\n")[:3]
sys.stdout.write(urllib.parse.urlencode({"grant_type": "password", "username": u, "password": p,
    "service": "harbor-registry", "scope": s, "client_id": "selftest"}))' > "$1"
}

# bearer TOKENRESPONSE_FILE: header file for curl -H @file
bearer() {
	printf 'Authorization: Bearer %s\n' "$(pyj "$1" 'd.get("token") or d.get("access_token")')" > "$T/bearer"
}

# req CRED METHOD URL [curl args...]: sets CODE and RC; body in $T/body, headers in $T/hdr
req() {
	local cred=$1 method=$2 url=$3
	shift 3
	local a=(-sS -o "$T/body" -D "$T/hdr" -w '%{http_code}' --max-time 20
		--cacert "$T/ca.crt"
		--resolve "harbor.test:$SPORT:127.0.0.1" --resolve "registry.test:$RPORT:127.0.0.1")
	if [ "$method" = HEAD ]; then a+=(-I); else a+=(-X "$method"); fi
	[ "$cred" = - ] || a+=(-K "$T/cred.$cred")
	: > "$T/body"
	: > "$T/hdr"
	CODE=$(curl "${a[@]}" "$@" "$url" 2> "$T/curl.err")
	RC=$?
}
hdr() { grep -i "^$1:" "$T/hdr" | tail -n 1 | cut -d: -f2- | sed 's/^ //; s/\r$//'; }

H=
R=
api() { local c=$1 m=$2 p=$3; shift 3; req "$c" "$m" "$H/api/v2.0$p" "$@"; }
ctl() { local m=$1 p=$2; shift 2; req - "$m" "$H/_standin$p" -H 'X-Standin-Control: 1' "$@"; }
json() { printf '%s' "$1" > "$T/json"; echo "@$T/json"; }
robot_body() { # NAME DURATION NAMESPACE ACCESS-PAIRS(res:act,...)
	python3 - "$@" <<'EOF'
import json, sys
name, dur, ns, acc = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
print(json.dumps({"name": name, "description": "selftest", "level": "project", "duration": dur,
    "disable": False, "permissions": [{"kind": "project", "namespace": ns,
    "access": [{"resource": x.split(":")[0], "action": x.split(":")[1]} for x in acc.split(",")]}]}))
EOF
}
create_robot() { # CRED NAME DURATION NAMESPACE ACCESS
	robot_body "$2" "$3" "$4" "$5" > "$T/robot.json"
	api "$1" POST /robots -H 'Content-Type: application/json' --data-binary "@$T/robot.json"
}
token_get() { # CRED SCOPE
	req "$1" GET "$H/service/token?service=harbor-registry&scope=$2"
}
upload() { # REPO (needs $T/bearer)
	req - POST "$R/v2/$1/blobs/uploads/" -H "@$T/bearer"
}

# ---------------------------------------------------------------------------
echo "# setup in $T"
[ -x "$REGISTRY" ] || fatal "docker-registry not found at $REGISTRY"
command -v openssl > /dev/null || fatal "openssl not found"

cat > "$T/ext.cnf" <<'EOF'
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:harbor.test, DNS:registry.test, IP:127.0.0.1
EOF
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.crt" -days 2 \
	-subj /CN=standin-selftest-ca -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2> "$T/openssl.err" || fatal "make CA"
openssl req -newkey rsa:2048 -nodes -keyout "$T/server.key" -out "$T/server.csr" \
	-subj /CN=harbor.test 2>> "$T/openssl.err" || fatal "make server key"
openssl x509 -req -in "$T/server.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
	-out "$T/server.crt" -days 2 -extfile "$T/ext.cnf" 2>> "$T/openssl.err" || fatal "sign server cert"
openssl rand -hex 16 > "$T/admin.pw"
read -r ADMIN_PW < "$T/admin.pw"
mkcred admin admin "$ADMIN_PW"
mkcred badadmin admin "wrong-$ADMIN_PW"

"$STANDIN" --listen 127.0.0.1:0 --tls-cert "$T/server.crt" --tls-key "$T/server.key" \
	--state-dir "$T/state" --admin-user admin --admin-password-file "$T/admin.pw" \
	--projects library,demo:7,other > "$T/standin.out" 2> "$T/standin.err" &
STANDIN_PID=$!
for _ in $(seq 1 150); do
	[ -f "$T/state/ready" ] && break
	kill -0 "$STANDIN_PID" 2>/dev/null || fatal "stand-in exited at start"
	sleep 0.1
done
[ -f "$T/state/ready" ] || fatal "stand-in not ready after 15 s"
SPORT=$(pyj "$T/state/ready" 'd["port"]')
H=https://harbor.test:$SPORT

RPORT=$(free_port)
R=https://registry.test:$RPORT
cat > "$T/registry.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $T/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$RPORT
  secret: selftest-http-secret
  tls:
    certificate: $T/server.crt
    key: $T/server.key
auth:
  token:
    realm: $H/service/token
    service: harbor-registry
    issuer: harbor-token-issuer
    rootcertbundle: $T/state/token.crt
EOF
"$REGISTRY" serve "$T/registry.yml" > "$T/registry.log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 1 100); do
	req - GET "$R/v2/"
	[ "$CODE" = 401 ] && break
	kill -0 "$REGISTRY_PID" 2>/dev/null || fatal "registry exited at start"
	sleep 0.1
done
[ "$CODE" = 401 ] || fatal "registry not answering 401 on /v2/ after 10 s"
echo "# stand-in $H (pid $STANDIN_PID), registry $R (pid $REGISTRY_PID)"

# ---------------------------------------------------------------------------
echo "# basics"
api - GET /ping
expect "ping answers 200 Pong without auth" "200 Pong" "$CODE $(cat "$T/body")"
req - GET "$H/_standin/robots"
expect "control endpoint without X-Standin-Control header is 404" 404 "$CODE"
api admin HEAD "/projects?project_name=demo"
expect "HEAD /projects?project_name=demo as admin is 200" 200 "$CODE"
api admin HEAD "/projects?project_name=nope"
expect "HEAD /projects?project_name=nope is 404" 404 "$CODE"
api - HEAD "/projects?project_name=demo"
expect "HEAD /projects anonymous is 401" 401 "$CODE"
api admin GET /projects/demo
expect "GET /projects/demo gives project_id 7" "200 7" "$CODE $(pyj "$T/body" 'd["project_id"]')"
api admin GET /projects/7
expect "GET /projects/7 by id" "200 demo" "$CODE $(pyj "$T/body" 'd["name"]')"

echo "# robot creation"
create_robot admin ci-push 1 demo repository:pull,repository:push
expect "admin creates project robot demo+ci-push: 201" 201 "$CODE"
PUSH_ID=$(pyj "$T/body" 'd["id"]')
PUSH_NAME=$(pyj "$T/body" 'd["name"]')
PUSH_SECRET=$(pyj "$T/body" 'd["secret"]')
expect "robot full name is robot\$demo+ci-push" 'robot$demo+ci-push' "$PUSH_NAME"
expect "Location header points at the robot" "/api/v2.0/robots/$PUSH_ID" "$(hdr Location)"
expect "secret is 32 characters" 32 "${#PUSH_SECRET}"
EXP=$(pyj "$T/body" 'd["expires_at"] - __import__("time").time() > 86000')
expect "expires_at is about one day ahead" True "$EXP"
mkcred push "$PUSH_NAME" "$PUSH_SECRET"

api admin GET "/robots/$PUSH_ID"
expect "GET /robots/{id} has no secret" "200 False" "$CODE $(pyj "$T/body" '"secret" in d')"
api admin GET "/robots?q=Level=project,ProjectID=7&page=1&page_size=10"
expect "list project robots: X-Total-Count 1" "200 1" "$CODE $(hdr X-Total-Count)"
api admin GET "/robots?q=Level=project,ProjectID=7,name=demo%2Bci-push"
expect "list by stored name demo+ci-push finds it" "200 1" "$CODE $(pyj "$T/body" 'len(d)')"
api admin GET "/robots"
expect "list without Level shows system robots only" "200 0" "$CODE $(hdr X-Total-Count)"

create_robot admin ci-pull 1 demo repository:pull
expect "admin creates pull-only robot" 201 "$CODE"
mkcred pull "$(pyj "$T/body" 'd["name"]')" "$(pyj "$T/body" 'd["secret"]')"
PULL_SECRET=$(pyj "$T/body" 'd["secret"]')

echo "# tokens and the real registry"
token_get push "repository:demo/app:push,pull"
cp "$T/body" "$T/tok.get"
expect "robot token via GET: 200" 200 "$CODE"
expect "GET token grants push,pull on demo/app" "repository:demo/app:push,pull" "$(actions "$T/tok.get")"
jwt_part "$T/tok.get" header > "$T/jwthdr.json"
jwt_part "$T/tok.get" claims > "$T/claims.json"
expect "JWT header alg RS256, kid is libtrust form, x5c has 1 cert" "RS256 True 1" \
	"$(pyj "$T/jwthdr.json" '"%s %s %d" % (d["alg"], bool(__import__("re").fullmatch(r"([A-Z2-7]{4}:){11}[A-Z2-7]{4}", d["kid"])), len(d["x5c"]))')"
expect "kid equals the one in the ready file" "$(pyj "$T/state/ready" 'd["kid"]')" "$(pyj "$T/jwthdr.json" 'd["kid"]')"
expect "claims: iss, aud (string), sub" 'harbor-token-issuer harbor-registry robot$demo+ci-push' \
	"$(pyj "$T/claims.json" '"%s %s %s" % (d["iss"], d["aud"], d["sub"])')"
expect "token response has expires_in 1800 and RFC3339 issued_at" "1800 True" \
	"$(pyj "$T/tok.get" '"%d %s" % (d["expires_in"], bool(__import__("re").fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", d["issued_at"])))')"

mkform "$T/form" "$PUSH_NAME" "$PUSH_SECRET" "repository:demo/app:pull,push"
req - POST "$H/service/token" --data-binary "@$T/form" -H 'Content-Type: application/x-www-form-urlencoded'
cp "$T/body" "$T/tok.post"
expect "robot token via POST form: 200 with access_token" "200 True" "$CODE $(pyj "$T/tok.post" 'bool(d.get("access_token"))')"
expect "POST token grants pull,push on demo/app" "repository:demo/app:pull,push" "$(actions "$T/tok.post")"

bearer "$T/tok.get"
upload demo/app
expect "registry accepts GET token: upload start 202" 202 "$CODE"
bearer "$T/tok.post"
upload demo/app
expect "registry accepts POST token: upload start 202" 202 "$CODE"

token_get pull "repository:demo/app:push,pull"
expect "pull-only robot gets only pull" "repository:demo/app:pull" "$(actions "$T/body")"
cp "$T/body" "$T/tok.pull"
bearer "$T/tok.pull"
upload demo/app
expect "pull-only token: upload 401 insufficient_scope" "401 1" "$CODE $(hdr Www-Authenticate | grep -c insufficient_scope)"
req - GET "$R/v2/demo/app/tags/list" -H "@$T/bearer"
expect "pull-only token may list tags (not 401)" "not401" "$([ "$CODE" != 401 ] && echo not401 || echo 401)"

token_get push "repository:other/app:push,pull"
expect "demo robot gets nothing on other/app" "repository:other/app:" "$(actions "$T/body")"
bearer "$T/body"
upload other/app
expect "demo robot token on other/app: upload 401" 401 "$CODE"

token_get push "repository:demo/a:b:pull%20repository:demo/app:pull&scope=registry:catalog:*"
expect "scopes: space-separated, repeated, name with ':'" "repository:demo/a:b:pull;repository:demo/app:pull;registry:catalog:" "$(actions "$T/body")"

token_get admin "registry:catalog:*"
bearer "$T/body"
req - GET "$R/v2/_catalog" -H "@$T/bearer"
expect "admin catalog token works on the registry" 200 "$CODE"

echo "# anonymous and bad credentials at the token service"
token_get - "repository:demo/app:pull"
expect "anonymous with scope: 200, empty access" "200 repository:demo/app:" "$CODE $(actions "$T/body")"
req - GET "$H/service/token?service=harbor-registry"
expect "anonymous without scope: 401" 401 "$CODE"
req badadmin GET "$H/service/token?service=harbor-registry"
expect "wrong password without scope: 401" 401 "$CODE"
token_get badadmin "repository:demo/app:push,pull"
expect "wrong password with scope: treated as anonymous" "200 repository:demo/app:" "$CODE $(actions "$T/body")"
mkform "$T/form" admin "nope-$ADMIN_PW" "repository:demo/app:pull"
req - POST "$H/service/token" --data-binary "@$T/form" -H 'Content-Type: application/x-www-form-urlencoded'
expect "wrong password on POST form: 401" 401 "$CODE"
req admin GET "$H/service/token?service=other-service&scope=repository:demo/app:pull"
expect "unknown service: 400" 400 "$CODE"

echo "# deleting a robot"
api admin DELETE "/robots/$PUSH_ID"
expect "DELETE /robots/{id}: 200" 200 "$CODE"
api admin DELETE "/robots/$PUSH_ID"
expect "DELETE again: 404" 404 "$CODE"
api admin GET "/robots/$PUSH_ID"
expect "GET deleted robot: 404" 404 "$CODE"
token_get push "repository:demo/app:push,pull"
expect "deleted robot's token has empty access" "200 repository:demo/app:" "$CODE $(actions "$T/body")"
bearer "$T/body"
upload demo/app
expect "deleted robot: upload 401" 401 "$CODE"
req push GET "$H/service/token?service=harbor-registry"
expect "deleted robot, no scope: 401" 401 "$CODE"
mkform "$T/form" "$PUSH_NAME" "$PUSH_SECRET" "repository:demo/app:pull,push"
req - POST "$H/service/token" --data-binary "@$T/form" -H 'Content-Type: application/x-www-form-urlencoded'
expect "deleted robot, POST form: 401" 401 "$CODE"
api push GET /projects/demo
expect "deleted robot on the API: 401" 401 "$CODE"
ctl GET /robots
expect "control robot list shows the deleted flag, no secrets" "True False" \
	"$(pyj "$T/body" '"%s %s" % ([r["deleted"] for r in d["robots"] if r["name"] == "robot$demo+ci-push"][0], any("secret" in r for r in d["robots"]))')"

echo "# API errors"
create_robot badadmin ci-x 1 demo repository:pull
expect "wrong admin password on POST /robots: 401 + Harbor body" \
	'401 {"errors":[{"code":"UNAUTHORIZED","message":"unauthorized"}]}' "$CODE $(cat "$T/body")"
expect "error content type" "application/json; charset=utf-8" "$(hdr Content-Type)"
create_robot admin ci-pull 1 demo repository:pull
expect "duplicate name: 409 CONFLICT" "409 CONFLICT" "$CODE $(pyj "$T/body" 'd["errors"][0]["code"]')"
create_robot admin ci-zero 0 demo repository:pull
expect "duration 0: 400 BAD_REQUEST" "400 BAD_REQUEST" "$CODE $(pyj "$T/body" 'd["errors"][0]["code"]')"
create_robot admin Bad-Name 1 demo repository:pull
expect "upper-case name: 400" 400 "$CODE"
create_robot admin 'a+b' 1 demo repository:pull
expect "name with '+': 400" 400 "$CODE"
create_robot admin ci-perm 1 demo repository:pull,repository:frob
expect "unknown permission: 400 bad request permission: repository:frob" \
	"400 bad request permission: repository:frob" "$CODE $(pyj "$T/body" 'd["errors"][0]["message"]')"
create_robot admin ci-np 1 nosuchproject repository:pull
expect "project robot in a missing project (admin): 403, as Harbor's permission check fails first" 403 "$CODE"
create_robot pull ci-by-robot 1 demo repository:pull
expect "project robot may not create robots: 403" 403 "$CODE"
api admin POST /robots --data-binary "@$T/robot.json"
expect "form content type on POST /robots: 415" 415 "$CODE"
api admin GET /robots/abc
expect "non-numeric robot id: 422" 422 "$CODE"

echo "# fault injection"
ctl POST /faults --data-binary "$(json '{"path_prefix":"/api/v2.0/robots","method":"POST","status":500,"count":2}')"
expect "arm 2x500 on POST /robots" 200 "$CODE"
create_robot admin ci-retry 1 demo repository:pull
C1=$CODE B1=$(cat "$T/body")
create_robot admin ci-retry 1 demo repository:pull
C2=$CODE
create_robot admin ci-retry 1 demo repository:pull
C3=$CODE
expect "500, 500, 201" "500 500 201" "$C1 $C2 $C3"
expect "5xx body is internal server error" '{"errors":[{"code":"UNKNOWN","message":"internal server error"}]}' "$B1"

ctl POST /faults --data-binary "$(json '{"path_prefix":"/api/v2.0/ping","drop":true,"count":1}')"
api - GET /ping
expect "drop: connection closed without an answer" "000 nonzero" "$CODE $([ "$RC" -ne 0 ] && echo nonzero || echo zero)"
api - GET /ping
expect "after the drop, ping works again" 200 "$CODE"

ctl POST /faults --data-binary "$(json '{"path_prefix":"/api/v2.0/ping","delay":2,"count":1}')"
S=$(date +%s.%N)
api - GET /ping
E=$(date +%s.%N)
expect "delay 2 s, then the normal answer" "200 True" "$CODE $(python3 -c "print($E - $S >= 1.9)")"

ctl POST /faults --data-binary "$(json '{"path_prefix":"/api/v2.0/robots","method":"POST","drop":true,"phase":"after"}')"
create_robot admin ci-lost 1 demo repository:pull
expect "drop after handling: client gets no answer" "000" "$CODE"
api admin GET "/robots?q=Level=project,ProjectID=7,name=demo%2Bci-lost"
expect "... but the robot exists and is found by name" "200 1" "$CODE $(hdr X-Total-Count)"

echo "# expiry, disable, JWT header variants, POST 405 mode"
create_robot admin ci-exp 1 demo repository:pull,repository:push
EXP_ID=$(pyj "$T/body" 'd["id"]')
mkcred exp "$(pyj "$T/body" 'd["name"]')" "$(pyj "$T/body" 'd["secret"]')"
ctl PATCH "/robots/$EXP_ID" --data-binary "$(json "{\"expires_at\": $(($(date +%s) - 10))}")"
token_get exp "repository:demo/app:push"
expect "expired robot: empty access" "repository:demo/app:" "$(actions "$T/body")"
api exp GET /projects/demo
expect "expired robot on the API: 401" 401 "$CODE"
ctl PATCH "/robots/$EXP_ID" --data-binary "$(json '{"expires_at": -1, "disable": true}')"
token_get exp "repository:demo/app:push"
expect "disabled robot: empty access" "repository:demo/app:" "$(actions "$T/body")"

for mode in kid x5c; do
	ctl POST /config --data-binary "$(json "{\"jwt_header\":\"$mode\"}")"
	token_get admin "repository:demo/app:push,pull"
	jwt_part "$T/body" header > "$T/jwthdr.json"
	bearer "$T/body"
	upload demo/app
	expect "JWT with $mode only: registry accepts (202)" "202 [\"$mode\"]" \
		"$CODE $(pyj "$T/jwthdr.json" 'sorted(k for k in d if k in ("kid", "x5c"))')"
done
ctl POST /config --data-binary "$(json '{"jwt_header":"both","token_post":"405"}')"
mkform "$T/form" admin "$ADMIN_PW" "repository:demo/app:pull"
req - POST "$H/service/token" --data-binary "@$T/form" -H 'Content-Type: application/x-www-form-urlencoded'
expect "token_post=405 mode: POST answers 405 like real Harbor" 405 "$CODE"
ctl POST /config --data-binary "$(json '{"token_post":"oauth"}')"

echo "# logs hold no secrets"
ctl GET /requests
cp "$T/body" "$T/requests.json"
expect "request log records the robot user name" True \
	"$(pyj "$T/requests.json" 'any(e["user"] == "robot$demo+ci-pull" for e in d["requests"])')"
expect "request log records the injected faults" True \
	"$(pyj "$T/requests.json" 'sum(1 for e in d["requests"] if e["fault"]) >= 5')"
leaks=0
for s in "$ADMIN_PW" "$PUSH_SECRET" "$PULL_SECRET"; do
	for f in "$T/requests.json" "$T/standin.err" "$T/standin.out" "$T/state/requests.jsonl" "$T/state/state.json"; do
		if grep -qF -- "$s" "$f"; then leaks=$((leaks + 1)); echo "#   secret found in $f"; fi
	done
done
grep -qi 'basic \|bearer ' "$T/standin.err" "$T/state/requests.jsonl" && leaks=$((leaks + 1))
expect "no admin password, robot secret or Authorization value in logs or state" 0 "$leaks"

echo "# shutdown"
kill "$STANDIN_PID"
for _ in $(seq 1 50); do kill -0 "$STANDIN_PID" 2>/dev/null || break; sleep 0.1; done
wait "$STANDIN_PID" 2>/dev/null
expect "SIGTERM stops the stand-in and removes the ready file" "gone absent" \
	"$(kill -0 "$STANDIN_PID" 2>/dev/null && echo running || echo gone) $([ -e "$T/state/ready" ] && echo present || echo absent)"
STANDIN_PID=

if [ "$FAIL" -ne 0 ]; then
	echo "--- stand-in stderr (tail)"; tail -n 30 "$T/standin.err"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]

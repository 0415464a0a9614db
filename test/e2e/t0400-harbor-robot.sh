#!/usr/bin/env bash
# Harbor credentials that exist for one job only.  A job on a protected ref
# pushes a two-platform image to Harbor with its own robot account; after
# cleanup the robot is gone and the registry refuses its credentials.  A job
# on an unprotected ref gets a pull-only robot, cannot push, and its log says
# why.  The registry is real (distribution with auth: token) and trusts only
# the stand-in's tokens, so every push is really authorized by the robot.
. "$(dirname "$0")/lib.sh"
trap 'harbor_down; e2e_cleanup' EXIT
harbor_up

mapfile -t hs < <(harbor_settings)
e2e_setup 4100 '[builder]' 'driver = "docker"' "${hs[@]}"
harbor_job true
# The job keeps a copy of its config.json so the test can try the robot's
# credentials after cleanup (the job may read its own credentials).
python3 - "$E2E_WORK/job.json" "$E2E_WORK/captured-config.json" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))
job["script"].insert(0, f'cp "$DOCKER_CONFIG/config.json" {sys.argv[2]}')
json.dump(job, open(sys.argv[1], "w"))
PY

check "a job on a protected ref pushes to Harbor with its robot" e2e_run_retrying_known_flake
check "the job log names the robot and says it may push" \
  grep -q "harbor:        robot robot\$demo+bx-4100-[0-9a-f]*, pull and push (protected ref)" "$E2E_WORK/job.log"
check "the push reached Harbor's registry: an index of linux/amd64 and linux/arm64" \
  "$BX_SOURCE_DIR/test/e2e/registry-check" --registry "$HARBOR_REGISTRY" --cafile "$BX_TEST_CA" \
  --user admin --password-file "$HARBOR_ADMIN_PASSWORD_FILE" --token-realm "$HARBOR_URL/service/token" \
  --repo demo/demo --tag "$E2E_TAG" --expect-platforms linux/amd64,linux/arm64
check "the robot was made for this job and deleted at cleanup" test -z "$(robots_alive)"
check "the ops record has the robot's id" grep -q '"event":"harbor.robot","outcome":"ok".*"robot_id"' "$E2E_WORK"/log/job-4100-*.jsonl
check "cleanup said it deleted the robot (runner log)" grep -q "deleted Harbor robot demo+bx-4100-" "$E2E_WORK/runner.log"

robot_can_push() {
  python3 - "$E2E_WORK/captured-config.json" "$HARBOR_URL" "$HARBOR_REGISTRY" "$BX_TEST_CA" <<'PY'
import base64, json, ssl, sys, urllib.error, urllib.parse, urllib.request
cfg, realm, registry, ca = sys.argv[1:]
auth = next(iter(v["auth"] for k, v in json.load(open(cfg))["auths"].items() if k == registry))
ctx = ssl.create_default_context(cafile=ca)
q = urllib.parse.urlencode({"service": "harbor-registry", "scope": "repository:demo/demo:push,pull"})
req = urllib.request.Request(f"{realm}/service/token?{q}", headers={"Authorization": "Basic " + auth})
try:
    token = json.load(urllib.request.urlopen(req, context=ctx))["token"]
except urllib.error.HTTPError:
    sys.exit(1)
req = urllib.request.Request(f"https://{registry}/v2/demo/demo/blobs/uploads/", method="POST",
                             headers={"Authorization": "Bearer " + token})
try:
    urllib.request.urlopen(req, context=ctx)
    sys.exit(0)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 202 else 1)
PY
}
check "after cleanup the registry refuses the robot's credentials" fails robot_can_push

# The control: a live robot made by hand through the API, same check, must push.
live_robot_config() {
  local created
  created=$(printf 'user = "admin:%s"\n' "$(cat "$HARBOR_ADMIN_PASSWORD_FILE")" |
    curl -sS -K - --cacert "$BX_TEST_CA" \
    -H 'Content-Type: application/json' -X POST "$HARBOR_URL/api/v2.0/robots" \
    -d '{"name":"control","level":"project","duration":1,"permissions":[{"kind":"project","namespace":"demo","access":[{"resource":"repository","action":"pull"},{"resource":"repository","action":"push"}]}]}') || return 1
  python3 - "$created" "$HARBOR_REGISTRY" "$E2E_WORK/captured-config.json" <<'PY'
import base64, json, sys
r = json.loads(sys.argv[1])
auth = base64.b64encode(f"{r['name']}:{r['secret']}".encode()).decode()
json.dump({"auths": {sys.argv[2]: {"auth": auth}}}, open(sys.argv[3], "w"))
PY
}
control() { live_robot_config && robot_can_push; }
check "(control: a live robot's credentials do push)" control
rm -f "$E2E_WORK/captured-config.json"
harbor_control DELETE /_standin/robots >/dev/null 2>&1 || true

# An unprotected ref: pull only.
rm -rf "$E2E_WORK/repo" "$E2E_WORK/log"
e2e_setup 4101 '[builder]' 'driver = "docker"' "${hs[@]}"
harbor_job false
check "a job on an unprotected ref cannot push" fails e2e_run
check "it failed as the job's failure, not the driver's" test "$(result_field failure_reason)" = script_failure
check "the job log says why" \
  grep -q "pull only: ref 'dev' is not protected, and \[\[harbor.project\]\] 'group/\*' allows push from protected refs only" "$E2E_WORK/job.log"
check "the registry refused the push" grep -qiE "unauthorized|insufficient_scope|authentication required|denied" "$E2E_WORK/job.log"
check "its pull-only robot is gone too" fails grep -q "bx-4101" <<<"$(robots_alive)"
check "nothing of either job is left" nothing_left
e2e_done

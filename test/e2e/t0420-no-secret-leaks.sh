#!/usr/bin/env bash
# No secret leaks anywhere: job variables, GitLab's registry password, a
# static registry password, the Harbor admin password and the job's robot
# secret are known marker strings; after a real build-and-push job none of
# them may appear in the job log, in cleanup's output (the runner log,
# unmasked), in the ops record, in the argv of any process the driver ran
# (every execve, traced), or in any file left on disk.
. "$(dirname "$0")/lib.sh"
trap 'harbor_down; e2e_cleanup' EXIT
command -v strace >/dev/null || { echo "strace is missing: apt-get install strace"; exit 1; }
harbor_up

rand() { od -An -N6 -tx1 /dev/urandom | tr -d ' \n'; }
M_VAR=bxleakvar$(rand)
M_CI=bxleakci$(rand)
M_STATIC=bxleakstatic$(rand)
static_pw=$E2E_WORK/inputs/static-password
mkdir -p "$E2E_WORK/inputs"
(umask 077 && echo "$M_STATIC" >"$static_pw")

mapfile -t hs < <(harbor_settings)
e2e_setup 4300 '[builder]' 'driver = "docker"' \
  '[[registry]]' 'host = "static.example:5000"' 'username = "ci"' "password_file = \"$static_pw\"" \
  "${hs[@]}"
harbor_job true
# Unmasked on purpose: the emulator masks masked variables like the runner
# does, which would hide a leak from this test.
python3 - "$E2E_WORK/job.json" "$M_VAR" "$M_CI" "$E2E_WORK/inputs/captured-config.json" <<'PY'
import json, sys
path, m_var, m_ci, captured = sys.argv[1:]
job = json.load(open(path))
job["variables"] += [
    {"key": "DEPLOY_TOKEN", "value": m_var},
    {"key": "CI_REGISTRY", "value": "gitlab.example:5050"},
    {"key": "CI_REGISTRY_USER", "value": "gitlab-ci-token"},
    {"key": "CI_REGISTRY_PASSWORD", "value": m_ci},
]
job["script"].insert(0, f'cp "$DOCKER_CONFIG/config.json" {captured}')
job["after_script"] = ["echo after"]
json.dump(job, open(path, "w"))
PY

# LeakSanitizer cannot work under ptrace; the sanitized build's memory leaks
# are checked by every other test, this one is about secrets.
check "the job succeeds (under strace)" \
  env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -s 65536 -e trace=execve -e signal=none -o "$E2E_WORK/inputs/execve.trace" \
  "$BX_SOURCE_DIR/test/emulator/runner-emu" --config "$E2E_WORK/runner.toml" \
  --job "$E2E_WORK/job.json" --work "$E2E_WORK/runner-tmp" --job-log "$E2E_WORK/job.log" \
  --runner-log "$E2E_WORK/runner.log" --result "$E2E_WORK/result.json" --prepare-retry-delay 0.2

# The robot's secret, from the job's own config.json (which the job may read).
M_ROBOT=$(python3 - "$E2E_WORK/inputs/captured-config.json" "$HARBOR_REGISTRY" <<'PY'
import base64, json, sys
auths = json.load(open(sys.argv[1]))["auths"]
print(base64.b64decode(auths[sys.argv[2]]["auth"]).decode().split(":", 1)[1])
PY
)
M_ADMIN=$(cat "$HARBOR_ADMIN_PASSWORD_FILE")
check "(control: the job really had the robot, static and GitLab credentials)" python3 - \
  "$E2E_WORK/inputs/captured-config.json" "$HARBOR_REGISTRY" <<'PY'
import json, sys
auths = json.load(open(sys.argv[1]))["auths"]
sys.exit(0 if {sys.argv[2], "static.example:5000", "gitlab.example:5050"} <= set(auths) else 1)
PY
check "(control: the trace saw the driver run docker buildx)" \
  grep -q 'execve("[^"]*docker", \["docker", "buildx", "create"\|execve("[^"]*docker", \["docker", "context", "create"' \
  "$E2E_WORK/inputs/execve.trace"
check "(control: the markers are in the job's inputs)" grep -q "$M_VAR" "$E2E_WORK/job.json"

# (config.json, the one place credentials are stored base64-encoded, must be
# gone with the job's state: nothing_left checks that.)
markers=("$M_VAR" "$M_CI" "$M_STATIC" "$M_ADMIN" "$M_ROBOT")
leaks_in() {
  local f m found=0
  for f in "$@"; do
    for m in "${markers[@]}"; do
      if grep -qaF -- "$m" "$f"; then
        echo "# secret found in $f"
        found=1
      fi
    done
  done
  return "$found"
}
check "no secret in the job log" leaks_in "$E2E_WORK/job.log"
check "no secret in the runner log (cleanup's output, unmasked)" leaks_in "$E2E_WORK/runner.log"
check "no secret in the ops record" leaks_in "$E2E_WORK"/log/*.jsonl
# argv only: strace prints the environment as a count, not its contents.
grep -a 'execve(' "$E2E_WORK/inputs/execve.trace" | grep -av 'runner-emu' >"$E2E_WORK/inputs/argv.txt" || true
check "no secret in the argv of any process" leaks_in "$E2E_WORK/inputs/argv.txt"
mapfile -t left < <(find "$E2E_WORK" -path "$E2E_WORK/inputs" -prune -o -path "$E2E_WORK/harbor" -prune \
  -o -type f ! -name job.json -print)
check "no secret in any file left on disk (${#left[@]} files)" leaks_in "${left[@]}"
check "the job's state, with its config.json, is gone" nothing_left
check "the robot is gone" test -z "$(robots_alive)"
e2e_done

#!/usr/bin/env bash
# When Harbor misbehaves: a refused credential is a system failure that says
# which one; 500 twice then 201 is retried into success; Harbor down fails
# prepare cleanly, and cleanup still leaves nothing behind.
. "$(dirname "$0")/lib.sh"
trap 'harbor_down; e2e_cleanup' EXIT
harbor_up

# 1. Wrong admin credential.
wrong=$E2E_WORK/wrong-password
(umask 077 && echo not-the-password >"$wrong")
mapfile -t hs < <(harbor_settings "$wrong")
e2e_setup 4200 '[builder]' 'driver = "docker"' "${hs[@]}"
harbor_job true
check "a refused Harbor credential fails the job" fails e2e_run
check "as a system failure" test "$(result_field failure_reason)" = runner_system_failure
check "the message says which credential Harbor refused, and what to do" \
  grep -q "Harbor at '$HARBOR_URL' refused the credential of 'admin' (HTTP 401).*password_file" "$E2E_WORK/job.log"
check "no robot was made" test -z "$(robots_alive)"
check "nothing is left" nothing_left

# 2. Harbor answers 500 twice, then creates the robot.
rm -rf "$E2E_WORK/repo" "$E2E_WORK/log"
mapfile -t hs < <(harbor_settings)
e2e_setup 4201 '[builder]' 'driver = "docker"' "${hs[@]}"
harbor_job true
harbor_control POST /_standin/faults \
  -d '{"path_prefix":"/api/v2.0/robots","method":"POST","status":500,"count":2}' >/dev/null
check "500, 500, 201: the job succeeds" e2e_run_retrying_known_flake
check "prepare ran once (the retries were the HTTP client's, not the runner's)" \
  test "$(result_field prepare_attempts)" = 1
check "Harbor saw three robot requests" test "$(harbor_control GET '/_standin/requests' |
  python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["requests"] if isinstance(d,dict) else d; print(sum(1 for x in r if x["method"]=="POST" and x["path"].startswith("/api/v2.0/robots")))')" = 3
check "the robot is gone after cleanup" test -z "$(robots_alive)"

# 3. Harbor down.
harbor_down
rm -rf "$E2E_WORK/repo" "$E2E_WORK/log"
e2e_setup 4202 '[builder]' 'driver = "docker"' "${hs[@]}"
harbor_job true
check "Harbor down fails the job" fails e2e_run
check "as a system failure, after three prepare attempts" \
  test "$(result_field failure_reason)/$(result_field prepare_attempts)" = runner_system_failure/3
check "the message says Harbor cannot be reached" grep -q "cannot reach '$HARBOR_URL'" "$E2E_WORK/job.log"
check "cleanup ran after each attempt and succeeded" fails grep -q "Cleanup script failed" "$E2E_WORK/job.log"
check "nothing is left" nothing_left
e2e_done

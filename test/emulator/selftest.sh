#!/usr/bin/env bash
# selftest.sh: checks runner-emu against reference-driver.
# Usage: test/emulator/selftest.sh   (exit 0 when every check passes)
# The last line of output is "N passed, N failed".

set -u

here=$(cd "$(dirname "$0")" && pwd)
emu="$here/runner-emu"
drv="$here/reference-driver"

top=$(mktemp -d "${TMPDIR:-/tmp}/runner-emu-selftest.XXXXXX")
trap 'rm -rf "$top"' EXIT

passed=0
failed=0

ok() {
	echo "ok - $1"
	passed=$((passed + 1))
}

not_ok() {
	echo "not ok - $1"
	failed=$((failed + 1))
}

# check DESCRIPTION COMMAND...: the command's status decides
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# jget FILE EXPR: print a Python expression over the JSON document `r`
jget() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(json.dumps(v) if not isinstance(v,str) else v)' "$1" "$2"
}

# jtrue FILE EXPR: succeeds when the expression is true
jtrue() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

# A local repository for get_sources to clone.
repo="$top/repo"
git init -q -b main "$repo"
echo "content-from-the-repository-$$" >"$repo/selftest-file.txt"
git -C "$repo" add selftest-file.txt
git -C "$repo" -c user.name=selftest -c user.email=selftest@example.com commit -q -m "selftest commit"

# write_config NAME CONFIG_SUBCOMMAND...: a config.toml using the reference driver
write_config() {
	local name=$1
	shift
	local cargs=""
	local a
	for a in "$@"; do cargs="$cargs\"$a\", "; done
	mkdir -p "$top/builds" "$top/cache"
	cat >"$top/$name.toml" <<EOF
concurrent = 1

[[runners]]
  name = "selftest"
  url = "https://gitlab.example.com"
  token = "glrt-selftesttoken123"
  executor = "custom"
  [runners.custom]
    config_exec = "$drv"
    config_args = [${cargs%, }]
    prepare_exec = "$drv"
    prepare_args = ["prepare"]
    run_exec = "$drv"
    run_args = ["run"]
    cleanup_exec = "$drv"
    cleanup_args = ["cleanup"]
    graceful_kill_timeout = 5
    force_kill_timeout = 2
EOF
}

write_config good config "$top/builds" "$top/cache"
write_config newline config-newline

# write_job NAME SCRIPT_JSON AFTER_SCRIPT_JSON [VARIABLES_JSON]
write_job() {
	cat >"$top/$1.json" <<EOF
{"id": 1001, "project_id": 42, "project_path": "group/demo", "repo": "$repo", "ref": "main",
 "ref_protected": true, "timeout": 3600, "pipeline_id": 7, "user_login": "alice",
 "server_url": "https://gitlab.example.com", "cache": false, "artifacts": false,
 "variables": ${4:-[]}, "script": $2, "after_script": $3}
EOF
}

# run_emu CASE CONFIG JOB [options...]: runs the emulator, outputs in $top/CASE.*
run_emu() {
	local case=$1 cfg=$2 job=$3
	shift 3
	mkdir -p "$top/work-$case"
	local start=$SECONDS
	"$emu" --config "$top/$cfg.toml" --job "$top/$job.json" --work "$top/work-$case" \
		--job-log "$top/$case.log" --runner-log "$top/$case.rlog" --result "$top/$case.result" \
		--prepare-retry-delay 0.2 "$@" 2>"$top/$case.stderr"
	echo $? >"$top/$case.rc"
	echo $((SECONDS - start)) >"$top/$case.secs"
}

rc_of() { cat "$top/$1.rc"; }
in_log() { grep -qF -- "$2" "$top/$1.log"; }
not_in_log() { ! grep -qF -- "$2" "$top/$1.log"; }

# 1. A passing job.
write_job pass '["echo build-line-ok", "echo job-var=$MY_VAR"]' '["echo after-ran"]' \
	'[{"key":"MY_VAR","value":"value-1"},{"key":"REF_ENV_DUMP","value":"'"$top"'/pass.env"}]'
run_emu pass good pass
check "pass: emulator exits 0" test "$(rc_of pass)" = 0
check "pass: status success" jtrue "$top/pass.result" 'r["status"] == "success"'
check "pass: build_script output in job log" in_log pass "build-line-ok"
check "pass: job variable reaches the script" in_log pass "job-var=value-1"
check "pass: build_script WARNING printed" in_log pass "WARNING: Starting with version 17.0 the 'build_script' stage will be replaced with 'step_script'"
check "pass: driver line printed" in_log pass "Using Custom executor with driver reference 0..."
check "pass: config_exec stderr in job log" in_log pass "reference: config (stderr reaches the job log)"
check "pass: stage order" jtrue "$top/pass.result" \
	'[s["stage"] for s in r["stages"]] == ["prepare_script","get_sources","build_script","after_script","cleanup_file_variables"]'
check "pass: one config/prepare/cleanup call each" jtrue "$top/pass.result" \
	'[c["kind"] for c in r["calls"]].count("config")==1 and [c["kind"] for c in r["calls"]].count("prepare")==1 and r["cleanup_runs"]==1'
check "pass: cleanup output only in the runner log" \
	bash -c "grep -q 'cleanup_std=out' '$top/pass.rlog' && grep -q 'cleanup_std=err' '$top/pass.rlog' && ! grep -q 'reference: cleanup' '$top/pass.log'"
check "pass: runner log has one exec line per call" \
	test "$(grep -c 'msg="exec: ' "$top/pass.rlog")" = 8
check "pass: driver in its own process group, cwd=TMPDIR, stdin /dev/null" \
	bash -c "grep -qx 'pgid_is_pid=yes' '$top/pass.env' && grep -qx 'cwd_is_tmpdir=yes' '$top/pass.env' && grep -qx 'stdin_is_devnull=yes' '$top/pass.env'"
check "pass: CUSTOM_ENV_CI_JOB_SERVICES set and empty" \
	bash -c "grep -qx 'services_set=yes' '$top/pass.env' && grep -qx 'services=' '$top/pass.env'"
check "pass: job_env from config_exec reaches prepare_exec" grep -qx 'job_env=from-config' "$top/pass.env"
check "pass: exit-code variables, response.json 0600, protected flag" \
	bash -c "grep -qx 'exit_codes=1/2' '$top/pass.env' && grep -qx 'response_mode=600' '$top/pass.env' && grep -qx 'protected=true' '$top/pass.env' && grep -q 'exit_code_file=.*/build_exit_code$' '$top/pass.env'"
check "pass: temp dir removed after cleanup" test -z "$(ls -A "$top/work-pass")"

# 2. get_sources really clones the local repository.
write_job clone '["cat selftest-file.txt", "git rev-parse HEAD"]' '[]'
run_emu clone good clone
check "clone: status success" jtrue "$top/clone.result" 'r["status"] == "success"'
check "clone: file from the repository visible in build_script" in_log clone "content-from-the-repository-$$"
check "clone: checked out the job's sha" in_log clone "$(git -C "$repo" rev-parse HEAD)"

# 3. A script that exits 3.
write_job exit3 '["echo before-failure", "exit 3", "echo never-printed"]' '["echo after-status=$CI_JOB_STATUS"]'
run_emu exit3 good exit3
check "exit3: emulator exits 1" test "$(rc_of exit3)" = 1
check "exit3: status failed, script_failure, exit_code 3" jtrue "$top/exit3.result" \
	'r["status"] == "failed" and r["failure_reason"] == "script_failure" and r["exit_code"] == 3'
check "exit3: commands after the failure do not run" not_in_log exit3 "never-printed"
check "exit3: job log says exit status 3" in_log exit3 "ERROR: Job failed: exit status 3"
check "exit3: summary line" grep -qx 'job 1001: failed (script_failure, exit_code 3)' "$top/exit3.stderr"

# 4. after_script runs after a failure, with CI_JOB_STATUS=failed.
check "after_script: ran after the failure with CI_JOB_STATUS=failed" in_log exit3 "after-status=failed"
check "after_script: cleanup_file_variables and cleanup still ran" jtrue "$top/exit3.result" \
	'r["stages"][-1]["stage"] == "cleanup_file_variables" and r["cleanup_runs"] == 1'

# 5. Graceful cancel during build_script.
write_job cancel '["sleep 30 & echo $! > '"$top"'/sleep.pid; wait"]' '["echo after-status=$CI_JOB_STATUS"]'
run_emu cancel good cancel --cancel build_script:1
check "cancel: status canceled" jtrue "$top/cancel.result" 'r["status"] == "canceled" and r["failure_reason"] == "job_canceled"'
check "cancel: finished quickly (SIGTERM to the group)" test "$(cat "$top/cancel.secs")" -lt 10
check "cancel: build_script call was terminated" jtrue "$top/cancel.result" \
	'[s for s in r["stages"] if s["stage"] == "build_script"][0]["terminated"]'
check "cancel: after_script ran with CI_JOB_STATUS=canceled" in_log cancel "after-status=canceled"
check "cancel: cleanup ran" jtrue "$top/cancel.result" 'r["cleanup_runs"] == 1'
check "cancel: 'script canceled externally' warning" in_log cancel "script canceled externally (UI, API)"
# dead children of the killed script are re-parented to PID 1, which may not
# reap them at once: a zombie counts as gone
gone() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null)
	[ -z "$st" ] || [ "${st#Z}" != "$st" ]
}
check "cancel: no sleep left behind" bash -c "$(declare -f gone); pid=\$(cat '$top/sleep.pid') && gone \"\$pid\""

# 6. Abort during build_script: later stages skipped, cleanup still runs.
write_job abort '["sleep 30"]' '["echo after-ran-after-abort"]'
run_emu abort good abort --abort build_script:1
check "abort: status canceled" jtrue "$top/abort.result" 'r["status"] == "canceled"'
check "abort: after_script skipped" not_in_log abort "after-ran-after-abort"
check "abort: no run_exec after build_script" jtrue "$top/abort.result" 'r["stages"][-1]["stage"] == "build_script"'
check "abort: cleanup ran" jtrue "$top/abort.result" 'r["cleanup_runs"] == 1'

# 7. Job timeout: job_execution_timeout, after_script skipped.
write_job timeout '["sleep 30"]' '["echo after-ran-after-timeout"]'
run_emu timeout good timeout --job-timeout 2
check "timeout: failed with job_execution_timeout" jtrue "$top/timeout.result" \
	'r["status"] == "failed" and r["failure_reason"] == "job_execution_timeout"'
check "timeout: message" in_log timeout "ERROR: Job failed: execution took longer than 2s seconds"
check "timeout: after_script skipped" not_in_log timeout "after-ran-after-timeout"
check "timeout: cleanup ran" jtrue "$top/timeout.result" 'r["cleanup_runs"] == 1'

# 8. config_exec prints a lone newline: 3 Prepare attempts, cleanup after each.
write_job newline '["echo unreachable"]' '[]'
run_emu newline newline newline
check "newline: 3 prepare attempts" jtrue "$top/newline.result" 'r["prepare_attempts"] == 3'
check "newline: cleanup after each attempt" jtrue "$top/newline.result" 'r["cleanup_runs"] == 3'
check "newline: config_exec ran 3 times" test "$(grep -c 'stage=config_exec' "$top/newline.rlog" | tr -d ' ')" -ge 3
check "newline: system failure" jtrue "$top/newline.result" \
	'r["status"] == "failed" and r["failure_reason"] == "runner_system_failure"'
check "newline: parse error in the job log" in_log newline \
	"Preparation failed: error while parsing JSON output: unexpected end of JSON input"
check "newline: no run_exec call" jtrue "$top/newline.result" 'r["stages"] == []'

# 9. prepare_exec exit 1 is a build failure and is not retried.
write_job prepfail '["echo unreachable"]' '[]' '[{"key":"REF_PREPARE_FAIL","value":"build"}]'
run_emu prepfail good prepfail
check "prepare exit 1: one attempt, script_failure" jtrue "$top/prepfail.result" \
	'r["prepare_attempts"] == 1 and r["cleanup_runs"] == 1 and r["failure_reason"] == "script_failure"'

# 10. prepare_exec exit 2 is retried.
write_job prepsys '["echo unreachable"]' '[]' '[{"key":"REF_PREPARE_FAIL","value":"system"}]'
run_emu prepsys good prepsys
check "prepare exit 2: three attempts, system failure" jtrue "$top/prepsys.result" \
	'r["prepare_attempts"] == 3 and r["cleanup_runs"] == 3 and r["failure_reason"] == "runner_system_failure"'

# 11. A non-integer BUILD_EXIT_CODE_FILE is an unknown (system) failure.
write_job garbage '["exit 5"]' '[]' '[{"key":"REF_EXIT_FILE","value":"garbage"}]'
run_emu garbage good garbage
check "garbage exit-code file: system failure" jtrue "$top/garbage.result" \
	'r["failure_reason"] == "runner_system_failure" and "unknown Custom executor executable exit code 2" in r["message"]'

# 12. The generated script has the runner's shape.
write_job shape '["echo shape"]' '[]'
run_emu shape good shape --keep-tmp
script=$(jget "$top/shape.result" '[s for s in r["stages"] if s["stage"] == "build_script"][0]["argv"][-2]')
check "script: path <tmp>/script<N>/script, mode 700" \
	bash -c "[[ '$script' =~ /custom-executor[0-9]+/script[0-9]+/script$ ]] && [ \"\$(stat -c %a '$script')\" = 700 ]"
check "script: shebang, TERM trap, errexit line, eval subshell, exit 0" python3 - "$script" <<'EOF'
import sys
lines = open(sys.argv[1]).read().split("\n")
ok = (lines[0] == "#!/usr/bin/env bash" and lines[2] == "trap 'exit 1' TERM"
      and lines[4] == 'case "$(set -o)" in *"pipefail"*) set -o pipefail;; esac; set -o errexit'
      and lines[5] == "set +o noclobber"
      and lines[6].startswith("(trap 'exit 1' TERM; eval $'") and lines[6].endswith("') < /dev/null")
      and lines[7] == "exit 0")
sys.exit(0 if ok else 1)
EOF
check "script: response.json kept with --keep-tmp, mode 600" \
	bash -c "[ \"\$(stat -c %a \"\$(dirname \"\$(dirname '$script')\")/response.json\")\" = 600 ]"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# The script's exit code reaches GitLab (allow_failure:exit_codes), and a
# stale BUILD_EXIT_CODE_FILE from an earlier stage is never read again.
. "$(dirname "$0")/lib.sh"

ID=110100
job_json "$ID" 'echo before-the-failure' 'exit 3' 'echo never-printed'
run_emu exit3 "$ID"

check "emulator exits 1" test "$(cat "$T/exit3.rc")" = 1
check "status failed" test "$(result_field status)" = failed
check "exit_code 3 (from BUILD_EXIT_CODE_FILE)" test "$(result_field exit_code)" = 3
check "failure_reason script_failure" test "$(result_field failure_reason)" = script_failure
check "build_script's run call exited BUILD_FAILURE_EXIT_CODE (1)" rtrue exit3 \
	'[s["exit"] for s in r["stages"] if s["stage"] == "build_script"] == [1]'
check "job log shows the output before the failure" has_line exit3 before-the-failure
check "job log: nothing after the failing command ran" not_in_log exit3 never-printed
check "job log shows the failure with exit status 3" has_line exit3 "ERROR: Job failed: exit status 3"
check "cleanup_file_variables still ran, and cleanup once" rtrue exit3 \
	'r["stages"][-1]["stage"] == "cleanup_file_variables" and r["stages"][-1]["exit"] == 0 and r["cleanup_runs"] == 1'
check "ops record: run of build_script failed as a build failure" ops_true "$ID" \
	"any(e['stage']=='run' and e['event']=='run' and e['outcome']=='error' and e.get('failure')=='build' for e in ev)"
check "ops record: the failing stage and code are named" ops_true "$ID" \
	"any(e['stage']=='run' and e['event']=='run' and 'build_script' in e.get('error','') and '3' in e.get('error','') for e in ev)"
check "ops record: no system failure" ops_true "$ID" "not any(e.get('failure')=='system' for e in ev)"
check "nothing left after the failed job" nothing_left "$ID"

# ---- a stale exit-code file: run by hand, as the runner would after a stage that exited 3
ID2=110200
EXIT_FILE=$T/build_exit_code
printf '#!/usr/bin/env bash\necho script-ran-ok\nexit 0\n' >"$T/pass.sh"
printf '#!/usr/bin/env bash\nexit 5\n' >"$T/fail5.sh"
rc=0
drv prepare "$ID2" || rc=$?
check "by hand: prepare exits 0" test "$rc" = 0
if [ "$rc" != 0 ]; then sed 's/^/#   prepare: /' "$T/drv.err"; fi

echo 7 >"$EXIT_FILE"
rc=0
DRV_EXIT_FILE=$EXIT_FILE drv run "$ID2" "$T/pass.sh" build_script || rc=$?
check "by hand: a passing script exits 0 despite a stale exit-code file with 7" test "$rc" = 0
check "by hand: the passing script's output is forwarded" grep -qx script-ran-ok "$T/drv.out"
check "by hand: the stale exit-code file was removed" test ! -e "$EXIT_FILE"

echo 7 >"$EXIT_FILE"
rc=0
DRV_EXIT_FILE=$EXIT_FILE drv run "$ID2" "$T/fail5.sh" step_release || rc=$?
check "by hand: a script exiting 5 makes run exit BUILD_FAILURE_EXIT_CODE (1)" test "$rc" = 1
check "by hand: the exit-code file now says 5 (first line)" test "$(head -n1 "$EXIT_FILE" 2>/dev/null)" = 5

rc=0
drv cleanup "$ID2" || rc=$?
check "by hand: cleanup exits 0" test "$rc" = 0
check "by hand: nothing left" nothing_left "$ID2"

finish

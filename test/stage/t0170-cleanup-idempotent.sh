#!/usr/bin/env bash
# cleanup is safe to run again, for a job that never had prepare, and after a
# prepare that failed before it created anything.
. "$(dirname "$0")/lib.sh"

ID=170100
job_json "$ID" 'echo job-ran'
run_emu finished "$ID"
check "the job succeeded" test "$(result_field status)" = success
check "nothing left after the job" nothing_left "$ID"

for n in 1 2; do
	rc=0
	drv cleanup "$ID" || rc=$?
	check "cleanup by hand after the job, run $n: exit 0" test "$rc" = 0
	if [ "$rc" != 0 ]; then sed 's/^/#   cleanup: /' "$T/drv.err" "$T/drv.out"; fi
done
check "the ops record survives repeated cleanups" test -s "$(ops_record $ID)"

NEVER=170999
rc=0
drv cleanup "$NEVER" || rc=$?
check "cleanup of a job that never had prepare: exit 0" test "$rc" = 0
if [ "$rc" != 0 ]; then sed 's/^/#   cleanup: /' "$T/drv.err" "$T/drv.out"; fi
check "cleanup of a job that never had prepare: nothing created" nothing_left "$NEVER"

# prepare fails before it creates anything: state_dir lies under a regular file
echo "not a directory" >"$T/a-file"
write_settings "$T/settings-broken.toml" "paths.state_dir=\"$T/a-file/state\""
write_runner_config "$T/runner-broken.toml" "$T/settings-broken.toml"
ID2=170200
job_json "$ID2" 'echo never-runs'
RUNNER_CFG=$T/runner-broken.toml run_emu broken "$ID2"

check "broken: job failed as a system failure" rtrue broken \
	'r["status"] == "failed" and r["failure_reason"] == "runner_system_failure"'
check "broken: prepare was attempted 3 times" \
	rtrue broken 'r["prepare_attempts"] == 3 and [c["kind"] for c in r["calls"]].count("prepare") == 3'
check "broken: the job log says why (the state dir)" \
	bash -c "grep -a 'buildx-executor: prepare:' '$T/broken.log' | grep -F -- '$T/a-file/state' >/dev/null"
check "broken: cleanup ran after each attempt" rtrue broken 'r["cleanup_runs"] == 3'
check "broken: every cleanup exited 0" rtrue broken \
	'[c["exit"] for c in r["calls"] if c["kind"] == "cleanup"] == [0, 0, 0]'
check "broken: no run_exec call" rtrue broken 'r["stages"] == []'
check "broken: nothing left (cgroup, builder)" nothing_left "$ID2"
check "broken: no working tree created" test ! -e "$(tree_of $ID2)"
check "broken: the regular file is untouched" test "$(cat "$T/a-file")" = "not a directory"

finish

#!/usr/bin/env bash
# A settings file with an unknown key: a system failure that names the file
# and line, once per attempt; the runner retries Prepare 3 times and runs
# cleanup after each attempt; nothing is created.
. "$(dirname "$0")/lib.sh"

BAD=$T/bad-settings.toml
write_settings "$BAD" 'job.shel="bash"'
line=$(grep -n '^shel = ' "$BAD" | cut -d: -f1)
write_runner_config "$T/runner-bad.toml" "$BAD"

ID=140100
job_json "$ID" 'echo never-runs'
RUNNER_CFG=$T/runner-bad.toml run_emu bad "$ID"

check "status failed" test "$(result_field status)" = failed
check "failure_reason runner_system_failure" test "$(result_field failure_reason)" = runner_system_failure
check "3 prepare attempts" rtrue bad 'r["prepare_attempts"] == 3'
check "cleanup after each attempt (result)" rtrue bad 'r["cleanup_runs"] == 3'
check "cleanup after each attempt (3 cleanup exec lines in the runner log)" test "$(cleanup_execs bad)" = 3
check "no run_exec call" rtrue bad 'r["stages"] == []'
n=$(count_lines bad "^buildx-executor: [a-z]+: $BAD:$line: unknown key .*shel")
check "job log: one '$BAD:$line: unknown key' line per attempt (3, got $n)" test "$n" = 3
n=$(count_lines bad "bad-settings\.toml:[0-9]+:")
check "job log: no other line about the settings file (got $n)" test "$n" = 3
check "the message says what to do (the key's section or a hint)" \
	bash -c "grep -F '$BAD:$line: unknown key' '$T/bad.log' | head -n1 | grep -iE '\[job\]|fix|known keys|did you mean' >/dev/null"
check "the job's script never ran" not_in_log bad never-runs
check "nothing left: no state, working tree, cgroup, builder" nothing_left "$ID"
check "nothing under state_dir and builds_dir" \
	bash -c "[ -z \"\$(ls -A '$T/state' 2>/dev/null)\" ] && [ -z \"\$(ls -A '$T/builds' 2>/dev/null)\" ]"

finish

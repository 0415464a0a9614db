#!/usr/bin/env bash
# after_script runs after a failed script, with CI_JOB_STATUS=failed, and
# cannot turn the job green.
. "$(dirname "$0")/lib.sh"

ID=120100
job_json --after 'echo after-ran CI_JOB_STATUS=$CI_JOB_STATUS' --after 'echo after-pwd=$PWD' \
	"$ID" 'false' 'echo never-printed'
run_emu after "$ID"

check "status failed" test "$(result_field status)" = failed
check "exit_code 1" test "$(result_field exit_code)" = 1
check "failure_reason script_failure" test "$(result_field failure_reason)" = script_failure
check "the script stopped at the failure" not_in_log after never-printed
check "after_script stage was called" rtrue after \
	'[s["stage"] for s in r["stages"]] == ["prepare_script","get_sources","build_script","after_script","cleanup_file_variables"]'
check "after_script output in the job log, with CI_JOB_STATUS=failed" \
	has_line after "after-ran CI_JOB_STATUS=failed"
check "after_script ran in the job's working tree" has_line after "after-pwd=$(tree_of $ID)/stage/demo"
check "after_script's run call succeeded" rtrue after \
	'[s["exit"] for s in r["stages"] if s["stage"] == "after_script"] == [0]'
check "cleanup ran once" rtrue after 'r["cleanup_runs"] == 1'
check "nothing left" nothing_left "$ID"

finish

#!/usr/bin/env bash
# A passing job, end to end: config, prepare, every run stage, cleanup.
. "$(dirname "$0")/lib.sh"

ID=100100
job_json "$ID" 'echo hello-from-job' 'test -f README' 'echo "readme says: $(cat README)"' \
	'docker buildx inspect | awk '"'"'/^Name:/ { print "builder-in-job: " $2; exit }'"'"''
run_emu pass "$ID"

check "emulator exits 0" test "$(cat "$T/pass.rc")" = 0
check "status success" test "$(result_field status)" = success
check "job output in the job log" has_line pass hello-from-job
check "get_sources really cloned: the repo file is visible" has_line pass "readme says: readme of $TEST_NAME"
check "driver line in the job log" grep -qE 'Using Custom executor with driver buildx-executor [0-9][^ ]*\.\.\.' "$T/pass.log"
check "the job's buildx uses its own builder" has_line pass "builder-in-job: $(builder_name $ID)"
check "prepare's summary names the builder" \
	bash -c "grep -a '^builder: ' '$T/pass.log' | grep -F -- '$(builder_name $ID)' >/dev/null"
check "run stages in the runner's order" rtrue pass \
	'[s["stage"] for s in r["stages"]] == ["prepare_script","get_sources","build_script","cleanup_file_variables"]'
check "one prepare attempt" rtrue pass 'r["prepare_attempts"] == 1'
check "cleanup ran once (result)" rtrue pass 'r["cleanup_runs"] == 1'
check "cleanup ran once (runner log exec lines)" test "$(cleanup_execs pass)" = 1
check "cleanup's report is in the runner log, not the job log" \
	bash -c "grep -q 'cleanup of $(job_key $ID) done' '$T/pass.rlog' && ! grep -q 'cleanup of $(job_key $ID)' '$T/pass.log'"
check "the working tree was the driver's per-job one" \
	test "$(result_field project_dir)" = "$(tree_of $ID)/stage/demo"
check "nothing left: state dir, working tree, cgroup, builder" nothing_left "$ID"
check "ops record exists" test -s "$(ops_record $ID)"
for st in config prepare run cleanup; do
	check "ops record: $st start and ok" ops_true "$ID" \
		"any(e['stage']=='$st' and e['event']=='$st' and e['outcome']=='start' for e in ev) and
		 any(e['stage']=='$st' and e['event']=='$st' and e['outcome']=='ok' and 'duration_ms' in e for e in ev)"
done
check "ops record: prepare made the builder" ops_true "$ID" \
	"any(e['stage']=='prepare' and e['event']=='builder' and e['outcome']=='ok' and e.get('builder')=='$(builder_name $ID)' for e in ev)"
check "ops record: cleanup removed the builder" ops_true "$ID" \
	"any(e['stage']=='cleanup' and e['event']=='builder' and e['outcome']=='ok' for e in ev)"
check "ops record: run ok once per run stage (4)" ops_true "$ID" \
	"sum(1 for e in ev if e['stage']=='run' and e['event']=='run' and e['outcome']=='ok') == 4"
check "ops record: no error" ops_true "$ID" "not any(e['outcome']=='error' for e in ev)"
check "ops record: every line has time, job_id, pid" ops_true "$ID" \
	"all(e.get('job_id')==$ID and isinstance(e.get('pid'), int) and e.get('time') for e in ev)"

finish

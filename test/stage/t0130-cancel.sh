#!/usr/bin/env bash
# A graceful cancel during build_script: the runner TERMs run's process group;
# run passes it on to the script's group, after_script still runs, and cleanup
# kills what is left, also a process that left the group with setsid.
. "$(dirname "$0")/lib.sh"

ID=130100
job_json --after 'echo after-ran CI_JOB_STATUS=$CI_JOB_STATUS' \
	--after "if kill -0 \$(cat $T/setsid.pid); then echo setsid-sleep-alive-in-after-script; fi" "$ID" \
	"sleep 300 & echo \$! > $T/bg.pid" \
	"setsid sh -c 'echo \$\$ > $T/setsid.pid; exec sleep 301' &" \
	"for i in \$(seq 50); do [ -s $T/setsid.pid ] && break; sleep 0.1; done" \
	"echo sleeps-started" \
	"sh -c 'echo \$\$ > $T/fg.pid; exec sleep 200'" \
	"echo never-printed"
run_emu cancel "$ID" --cancel build_script:2

secs=$(cat "$T/cancel.secs")
check "status canceled (job_canceled)" rtrue cancel 'r["status"] == "canceled" and r["failure_reason"] == "job_canceled"'
check "finished quickly: ${secs}s < 30s" python3 -c "import sys; sys.exit(0 if $secs < 30 else 1)"
check "the script had started its sleeps" has_line cancel sleeps-started
check "the script did not go on after the TERM" not_in_log cancel never-printed
check "build_script's run call was TERMed and exited by itself (no SIGKILL, not dormant)" rtrue cancel \
	'[(s["terminated"], s["killed"], s["dormant"]) for s in r["stages"] if s["stage"] == "build_script"] == [(True, False, False)]'
check "after_script ran with CI_JOB_STATUS=canceled" has_line cancel "after-ran CI_JOB_STATUS=canceled"
check "cleanup ran once" rtrue cancel 'r["cleanup_runs"] == 1'
check "cleanup exec line in the runner log" test "$(cleanup_execs cancel)" = 1
for p in bg setsid fg; do
	pid=$(cat "$T/$p.pid" 2>/dev/null || echo none)
	check "the $p sleep (pid $pid) is not alive" gone "$pid"
done
check "ops record: run of build_script saw the TERM" ops_true "$ID" \
	"any(e['stage']=='run' and e['event']=='script' and e.get('script_stage')=='build_script' and e['outcome']=='error' for e in ev)"
check "ops record: cleanup ok" ops_true "$ID" \
	"any(e['stage']=='cleanup' and e['event']=='cleanup' and e['outcome']=='ok' for e in ev)"
# Not an assertion (run may kill it earlier one day): which part ended the setsid sleep.
if has_line cancel setsid-sleep-alive-in-after-script; then
	echo "# note: the setsid sleep outlived run; cleanup said: $(grep -o 'killed [0-9]* leftover process[a-z]*' "$T/cancel.rlog" || echo nothing)"
fi
check "nothing left: state dir, working tree, cgroup, builder" nothing_left "$ID"

finish

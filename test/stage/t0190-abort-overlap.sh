#!/usr/bin/env bash
# An abort while the job ignores TERM: the runner waits only so long for the
# build before it runs cleanup, so cleanup can start while run is still
# shutting the job down.  Cleanup must then kill everything -- run included,
# it lives in the job's cgroup -- remove everything, and succeed.
. "$(dirname "$0")/lib.sh"

ID=190100
job_json "$ID" \
	"sh -c 'trap \"\" TERM; echo \$\$ > $T/stubborn.pid; while :; do sleep 1; done' &" \
	"for i in \$(seq 50); do [ -s $T/stubborn.pid ] && break; sleep 0.1; done" \
	"echo stubborn-started" \
	"sleep 120"
run_emu abort "$ID" --abort build_script:2 --build-finish-timeout 0.5

check "the stubborn process had started" has_line abort stubborn-started
check "the job was aborted, not successful" rtrue abort 'r["status"] != "success"'
check "cleanup ran once" rtrue abort 'r["cleanup_runs"] == 1'
# (Abort at 2 s, the runner waits 0.5 s, run would drain for 2 s more: cleanup
# starts while run is still alive, and its cgroup kill is what ends run.)
overlap() {
	python3 - "$T/abort.result" <<'PY'
import datetime, json, sys
r = json.load(open(sys.argv[1]))
t = lambda c: datetime.datetime.fromisoformat(c["started"].replace("Z", "+00:00")).timestamp()
run = [c for c in r["calls"] if c["stage"] == "build_script"][0]
cleanup = [c for c in r["calls"] if c["stage"] == "cleanup_exec"][0]
sys.exit(0 if t(cleanup) < t(run) + run["duration"] and run["signal"] == "killed"
         and not run["killed"] else 1)
PY
}
check "cleanup started while run was still shutting down, and ended it" overlap
check "cleanup succeeded" rtrue abort '[c["exit"] for c in r["calls"] if c["stage"] == "cleanup_exec"] == [0]'
check "the TERM-ignoring process is gone" gone "$(cat "$T/stubborn.pid" 2>/dev/null || echo none)"
check "nothing left: state dir, working tree, cgroup, builder" nothing_left "$ID"
finish

#!/usr/bin/env bash
# Two jobs of the same project at the same time (CI_CONCURRENT_ID 0 and 1):
# each gets its own working tree, neither sees the other's files.
. "$(dirname "$0")/lib.sh"

A=150100
B=150200
for id in $A $B; do
	# each waits (up to 30 s) until the other has started too, so they overlap
	job_json "$id" \
		'echo "$CI_JOB_ID" > "marker-$CI_JOB_ID"' \
		"date +%s.%N > $T/start-\$CI_JOB_ID" \
		"for i in \$(seq 300); do [ \$(ls $T/start-* 2>/dev/null | wc -l) = 2 ] && break; sleep 0.1; done" \
		'sleep 1' \
		"date +%s.%N > $T/end-\$CI_JOB_ID" \
		'echo "markers: $(ls marker-* | tr "\n" " ")"' \
		'test "$(ls marker-*)" = "marker-$CI_JOB_ID"' \
		'echo "own-marker-only $CI_JOB_ID in $PWD"'
done
run_emu job-a "$A" --concurrent-id 0 &
_BG_PIDS+=($!)
run_emu job-b "$B" --concurrent-id 1 &
_BG_PIDS+=($!)
wait "${_BG_PIDS[@]}"
_BG_PIDS=()

for c in a b; do
	id=$([ $c = a ] && echo $A || echo $B)
	LAST_CASE=job-$c
	check "job $c: status success" test "$(result_field status job-$c)" = success
	check "job $c: saw only its own marker" has_line job-$c "own-marker-only $id in $(result_field project_dir job-$c)"
	check "job $c: project dir is its own per-job tree" \
		test "$(result_field project_dir job-$c)" = "$(tree_of "$id")/stage/demo"
	check "job $c: nothing left" nothing_left "$id"
done
pa=$(result_field project_dir job-a)
pb=$(result_field project_dir job-b)
check "the two CI_PROJECT_DIRs differ" test "$pa" != "$pb"
check "neither working tree is inside the other" \
	bash -c "case '$pa/' in '$pb/'*) exit 1;; esac; case '$pb/' in '$pa/'*) exit 1;; esac"
check "the two jobs' scripts really overlapped in time" python3 -c "
import sys
a0, a1, b0, b1 = (float(open('$T/%s-%s' % (k, i)).read()) for i in ($A, $B) for k in ('start', 'end'))
sys.exit(0 if a0 < b1 and b0 < a1 else 1)"

finish

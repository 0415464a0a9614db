#!/usr/bin/env bash
# Job-controlled text (CI_JOB_NAME, CI_COMMIT_REF_NAME, job variables) with
# newlines, quotes, "../", non-UTF-8 bytes and ~1 MiB of values: the job runs
# and succeeds, its values arrive intact, and nothing on disk is named after
# them: only the numeric job-<id>-<hash> names.
. "$(dirname "$0")/lib.sh"

ID=180100
sha=$(git -C "$REPO" rev-parse HEAD)
evil_name=$'../../evil-name\n"quoted" \'single\' `id` $(id) ; rm -rf / \xff\xfe end'
evil_ref=$'../../../evil-ref/..\n\x80\xc3(\t"\'x'
evil_var=$'../evil-var/../../x\r\n"\\\' \xff line2\n\xed\xa0\x80'
job_json --set "name=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$evil_name")" \
	--set "ref=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$evil_ref")" \
	--set "sha=\"$sha\"" --set 'refspecs=["+refs/heads/main:refs/remotes/origin/main"]' \
	--var "EVIL_VAR=$evil_var" \
	"$ID" \
	'echo "name-sum=$(printf %s "$CI_JOB_NAME" | sha256sum | cut -c1-64)"' \
	'echo "ref-sum=$(printf %s "$CI_COMMIT_REF_NAME" | sha256sum | cut -c1-64)"' \
	'echo "var-sum=$(printf %s "$EVIL_VAR" | sha256sum | cut -c1-64)"' \
	'echo "big-sum=$(printf %s "$BIG_0$BIG_1$BIG_2$BIG_3$BIG_4$BIG_5$BIG_6$BIG_7" | sha256sum | cut -c1-64)"' \
	"find $T/state $T/builds $T/cache $T/log -print0 > $T/listing-during" \
	'test -f README' \
	'echo hostile-job-done'

# ~1 MiB of variable values: 8 x 127 KiB.  One single 1 MiB value cannot be
# passed at all: the runner hands every variable to the driver as a
# CUSTOM_ENV_ environment variable, and Linux refuses any one environment
# string over 128 KiB (MAX_ARG_STRLEN, E2BIG), for gitlab-runner too.
python3 - "$T/job-$ID.json" <<'EOF'
import json, sys
p = sys.argv[1]
job = json.load(open(p))
for i in range(8):
    chunk = ("../evil-big-%d/\n\"'$(x)`\\" % i) * 4000
    job["variables"].append({"key": "BIG_%d" % i, "value": chunk[:127 * 1024]})
json.dump(job, open(p, "w"))
EOF
sum() { printf %s "$1" | sha256sum | cut -c1-64; }
big_sum=$(python3 -c '
import sys, hashlib
v = "".join((("../evil-big-%d/\n\"'"'"'$(x)`\\" % i) * 4000)[:127 * 1024] for i in range(8))
print(hashlib.sha256(v.encode()).hexdigest())')

run_emu hostile "$ID"
check "status success" test "$(result_field status)" = success
check "the job ran to its end" has_line hostile hostile-job-done
check "CI_JOB_NAME arrived intact" has_line hostile "name-sum=$(sum "$evil_name")"
check "CI_COMMIT_REF_NAME arrived intact" has_line hostile "ref-sum=$(sum "$evil_ref")"
check "the custom variable arrived intact" has_line hostile "var-sum=$(sum "$evil_var")"
check "~1 MiB of variables arrived intact" has_line hostile "big-sum=$big_sum"

# Names on disk, during the job and after it.
names_ok() {
	python3 - "$1" "$(job_key $ID)" "$T" <<'EOF'
import os, sys
listing, key, t = sys.argv[1:]
paths = [p for p in open(listing, "rb").read().split(b"\0") if p]
bad = []
top = {}
for p in paths:
    rel = os.path.relpath(p, t.encode())
    parts = rel.split(b"/")
    if any(b".." == c or b".." in c or b"evil" in c or b"\n" in c or any(ch > 0x7e for ch in c) for c in parts):
        bad.append(rel)
    if len(parts) == 2:
        top.setdefault(parts[0].decode(), set()).add(parts[1].decode("utf-8", "replace"))
want = {"state": {key}, "builds": {key}, "log": {key + ".jsonl"}}
for d, names in want.items():
    if top.get(d, set()) != names:
        bad.append(("%s/ holds %s, want %s" % (d, sorted(top.get(d, set())), sorted(names))).encode())
for b in bad[:10]:
    print("#   bad name:", b)
sys.exit(1 if bad or not paths else 0)
EOF
}
check "during the job: only job-<id>-<hash> names, nothing named after job text" names_ok "$T/listing-during"
find "$T" -mindepth 1 \( -path "$REPO" -o -path "$T/emu-*" \) -prune -o -print0 >"$T/listing-after.raw"
check "after the job: no path under the work dir is named after job text" python3 -c '
import sys
paths = [p for p in open(sys.argv[1], "rb").read().split(b"\0") if p]
bad = [p for p in paths if b"evil" in p or b"/../" in p or b"\n" in p or any(c > 0x7e for c in p)]
print("\n".join("#   bad path: %r" % p for p in bad[:10])) if bad else None
sys.exit(1 if bad else 0)' "$T/listing-after.raw"
check "ops record: valid UTF-8 JSON, one object per line" python3 -c '
import json, sys
for l in open(sys.argv[1], "rb"):
    json.loads(l.decode("utf-8"))' "$(ops_record $ID)"
check "ops record: no raw job text" bash -c "! grep -aq evil '$(ops_record $ID)'"
check "nothing left" nothing_left "$ID"

# A job variable that shadows a predefined one the driver identifies the job by.
ID2=180200
job_json --var "CI_JOB_ID=../../evil-id" --var "CI_PROJECT_ID=../evil" \
	--var "CI_SERVER_URL=https://evil.example/../x" --var "CI_CONCURRENT_ID=../../evil" \
	"$ID2" 'echo "job sees CI_JOB_ID=$CI_JOB_ID"' \
	"find $T/state $T/builds $T/log -print0 > $T/listing-shadow"
run_emu shadow "$ID2"
check "shadowing CI_JOB_ID & co.: status success" test "$(result_field status)" = success
check "shadowing: the job sees its own value (job variables win in the job)" \
	has_line shadow "job sees CI_JOB_ID=../../evil-id"
check "shadowing: names on disk are the payload's numeric id" bash -c "
	tr '\0' '\n' < '$T/listing-shadow' | grep -x '$T/state/$(job_key $ID2)' >/dev/null &&
	! tr '\0' '\n' < '$T/listing-shadow' | grep evil >/dev/null"
check "shadowing: nothing left" nothing_left "$ID2"

finish

# shellcheck shell=bash
# test/stage/lib.sh: the harness of the end-to-end protocol scenarios.
#
# Each test/stage/tNNNN-*.sh sources this file, drives the INSTALLED driver
# (BX_PREFIX/bin/buildx-executor-*) through the gitlab-runner emulator
# (BX_SOURCE_DIR/test/emulator/runner-emu), and ends with `finish`, whose last
# line is "N passed, N failed"; the script exits non-zero on any failure.
#
# Environment (ctest sets the first two):
#   BX_PREFIX      where `cmake --install` put bin/buildx-executor-*   (required)
#   BX_SOURCE_DIR  the source tree (for the emulator)                   (required)
#   BX_KEEP=1      keep the private work dir (its path is printed)
#
# Everything lives in one private work dir ($T, mktemp under /tmp): the
# driver's [paths], the runner's config.toml, job files, logs and results.
# The GitLab server URL is unique to the work dir, so the driver's names
# (job-<id>-<hash>, bx-<id>-<hash>, the cgroup) cannot collide with another
# test or another run on this host.

set -euo pipefail

: "${BX_PREFIX:?set BX_PREFIX to the install prefix of the driver (cmake --install ... --prefix DIR)}"
: "${BX_SOURCE_DIR:?set BX_SOURCE_DIR to the buildx-executor source tree}"

BX_EMU=$BX_SOURCE_DIR/test/emulator/runner-emu
for _s in config prepare run cleanup; do
	if [ ! -x "$BX_PREFIX/bin/buildx-executor-$_s" ]; then
		echo "not ok - $BX_PREFIX/bin/buildx-executor-$_s is not installed" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done
[ -x "$BX_EMU" ] || { echo "not ok - no emulator at $BX_EMU"; echo "0 passed, 1 failed"; exit 1; }

TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/bx-stage-$TEST_NAME.XXXXXX")
_suffix=$(basename "$T")
_suffix=${_suffix##*.}
SERVER_URL="https://gitlab-${_suffix,,}.stage.test"
SERVER_HASH=$(printf %s "$SERVER_URL" | sha256sum | cut -c1-8)
SETTINGS=$T/settings.toml
RUNNER_CFG=$T/runner.toml
REPO=$T/repo
PASSED=0
FAILED=0
LAST_CASE=
declare -a _BG_PIDS=()

_on_exit() {
	local rc=$? f pid
	# Processes this test's jobs left behind (only pids our jobs wrote down).
	for f in "$T"/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null) || continue
		[[ $pid =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in "${_BG_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
	if [ "${BX_KEEP:-}" = 1 ]; then
		echo "# kept the work dir $T" >&2
	else
		# Job cgroups a failing driver left: ours only (the hash is unique to $T).
		for f in /sys/fs/cgroup/buildx-executor/job-*-"$SERVER_HASH" \
			/sys/fs/cgroup/unified/buildx-executor/job-*-"$SERVER_HASH"; do
			[ -d "$f" ] && rmdir "$f" 2>/dev/null || true
		done
		rm -rf "$T"
	fi
	exit "$rc"
}
trap _on_exit EXIT

# ---- driver settings and runner config ------------------------------------

# write_settings FILE [section.key=TOML_VALUE]...
#   The test settings: every [paths] inside $T, driver docker, emulation host,
#   a short TERM grace.  Arguments replace a default or add a key (in order).
write_settings() {
	local file=$1 a k sec
	shift
	local -A kv=(
		[paths.state_dir]="\"$T/state\""
		[paths.builds_dir]="\"$T/builds\""
		[paths.cache_dir]="\"$T/cache\""
		[paths.log_dir]="\"$T/log\""
		[job.term_grace_seconds]=3
		[builder.driver]='"docker"'
		[emulation.mode]='"host"'
	)
	local -a order=(paths.state_dir paths.builds_dir paths.cache_dir paths.log_dir
		job.term_grace_seconds builder.driver emulation.mode)
	for a in "$@"; do
		k=${a%%=*}
		[[ -v kv[$k] ]] || order+=("$k")
		kv[$k]=${a#*=}
	done
	{
		echo "# buildx-executor settings for $TEST_NAME"
		for sec in paths job docker builder emulation log; do
			local header=0
			for k in "${order[@]}"; do
				[ "${k%%.*}" = "$sec" ] || continue
				if [ $header = 0 ]; then
					printf '\n[%s]\n' "$sec"
					header=1
				fi
				printf '%s = %s\n' "${k#*.}" "${kv[$k]}"
			done
		done
		for k in "${order[@]}"; do
			case ${k%%.*} in paths | job | docker | builder | emulation | log) ;;
			*) printf '\n[%s]\n%s = %s\n' "${k%%.*}" "${k#*.}" "${kv[$k]}" ;;
			esac
		done
	} >"$file"
}

# write_runner_config FILE SETTINGS_FILE: gitlab-runner's config.toml for the driver
write_runner_config() {
	local file=$1 settings=$2 s
	{
		cat <<EOF
concurrent = 4

[[runners]]
  name = "bx-stage"
  url = "$SERVER_URL"
  token = "glrt-stagetest${_suffix}"
  executor = "custom"
  builds_dir = "$T/runner-builds"
  cache_dir = "$T/runner-cache"
  [runners.custom]
EOF
		for s in config prepare run cleanup; do
			echo "    ${s}_exec = \"$BX_PREFIX/bin/buildx-executor-$s\""
			echo "    ${s}_args = [\"--config\", \"$settings\"]"
		done
		echo "    graceful_kill_timeout = 30"
		echo "    force_kill_timeout = 5"
	} >"$file"
}

write_settings "$SETTINGS"
write_runner_config "$RUNNER_CFG" "$SETTINGS"

# A local repository for get_sources to clone.
git init -q -b main "$REPO"
echo "readme of $TEST_NAME" >"$REPO/README"
git -C "$REPO" add README
git -C "$REPO" -c user.name=stage -c user.email=stage@example.com commit -q -m "stage test commit"

# ---- jobs ------------------------------------------------------------------

# job_json [--after LINE]... [--var KEY=VALUE]... [--set FIELD=JSON]... ID SCRIPT_LINES...
#   Writes the emulator's compact job description to $T/job-ID.json (prints nothing).
job_json() {
	python3 - "$T" "$REPO" "$SERVER_URL" "$@" <<'EOF'
import json, sys
t, repo, server, *args = sys.argv[1:]
after, variables, extra = [], [], {}
while args and args[0].startswith("--"):
    opt, val = args[0], args[1]
    args = args[2:]
    if opt == "--after":
        after.append(val)
    elif opt == "--var":
        k, _, v = val.partition("=")
        variables.append({"key": k, "value": v})
    elif opt == "--set":
        k, _, v = val.partition("=")
        extra[k] = json.loads(v)
    else:
        sys.exit("job_json: unknown option " + opt)
job_id, script = int(args[0]), args[1:]
job = {"id": job_id, "project_id": 4242, "project_path": "stage/demo", "repo": repo, "ref": "main",
       "ref_protected": False, "timeout": 600, "pipeline_id": 77, "user_login": "stage",
       "server_url": server, "cache": False, "artifacts": False,
       "variables": variables, "script": script, "after_script": after}
job.update(extra)
with open("%s/job-%d.json" % (t, job_id), "w", encoding="utf-8", errors="surrogateescape") as f:
    json.dump(job, f)
EOF
}

# run_emu CASE JOB_ID [runner-emu options...]
#   Runs one job; outputs in $T/CASE.{log,rlog,result,stderr,rc,secs}.
#   RUNNER_CFG (default $T/runner.toml) picks the runner config.
run_emu() {
	local case=$1 id=$2 rc=0 t0 t1
	shift 2
	mkdir -p "$T/emu-$case"
	LAST_CASE=$case
	t0=$(date +%s.%N)
	"$BX_EMU" --config "$RUNNER_CFG" --job "$T/job-$id.json" --work "$T/emu-$case" \
		--job-log "$T/$case.log" --runner-log "$T/$case.rlog" --result "$T/$case.result" \
		--prepare-retry-delay 0.2 "$@" 2>"$T/$case.stderr" || rc=$?
	t1=$(date +%s.%N)
	echo "$rc" >"$T/$case.rc"
	python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$t0" "$t1" \
		>"$T/$case.secs"
	echo "# $case: $(tail -n1 "$T/$case.stderr" 2>/dev/null) (rc $rc, $(cat "$T/$case.secs") s)"
}

# job_key ID: the driver's name for the job's directories and record
job_key() { echo "job-$1-$SERVER_HASH"; }
builder_name() { echo "bx-$1-$SERVER_HASH"; }
state_dir_of() { echo "$T/state/$(job_key "$1")"; }
tree_of() { echo "$T/builds/$(job_key "$1")"; }
ops_record() { echo "$T/log/$(job_key "$1").jsonl"; }

# ---- reading results --------------------------------------------------------

# result_field KEY [CASE]: one field of the emulator's result JSON (JSON for non-strings)
result_field() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print(v if isinstance(v,str) else json.dumps(v))' \
		"$T/${2:-$LAST_CASE}.result" "$1"
}

# rtrue CASE PY_EXPR: the expression over the result document `r` is true
rtrue() {
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' \
		"$T/$1.result" "$2"
}

# ops_true ID PY_EXPR: the expression over `ev` (the record's lines, parsed) is true
ops_true() {
	python3 -c 'import json,sys; ev=[json.loads(l) for l in open(sys.argv[1], encoding="utf-8", errors="surrogateescape") if l.strip()]; sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' \
		"$(ops_record "$1")" "$2"
}

in_log() { grep -qF -- "$2" "$T/$1.log"; }
# log_lines CASE: the job log without colours and carriage returns
log_lines() { sed -e 's/\x1b\[[0-9;]*[mK]//g' -e 's/\r/\n/g' "$T/$1.log"; }
# has_line CASE LINE: the job log has exactly this line (script output, not the echoed command)
has_line() { log_lines "$1" | grep -xF -- "$2" >/dev/null; }
# count_lines CASE REGEX: how many job-log lines match
count_lines() { log_lines "$1" | grep -cE -- "$2" || true; }
not_in_log() { ! grep -qF -- "$2" "$T/$1.log"; }
in_rlog() { grep -qF -- "$2" "$T/$1.rlog"; }
count_in() { grep -cF -- "$2" "$1" || true; }

# exec lines of one driver executable in a runner log
cleanup_execs() { grep -cF "msg=\"exec: $BX_PREFIX/bin/buildx-executor-cleanup " "$T/$1.rlog" || true; }

# gone PID: not running (missing, or a zombie nobody reaped yet)
gone() {
	local st
	[[ $1 =~ ^[0-9]+$ ]] || return 1
	[ -r "/proc/$1/stat" ] || return 0
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 0
	[ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

# Builders and contexts named bx-ID-* that the docker CLI (host config) or the
# engine (docker-container builders) still knows.
leftover_builders() {
	local id=$1
	{
		timeout 20 docker context ls --format '{{.Name}}' 2>/dev/null || true
		timeout 20 docker buildx ls 2>/dev/null | awk '{print $1}' || true
		timeout 20 docker ps -a --format '{{.Names}}' 2>/dev/null | sed -n 's/^buildx_buildkit_//p' || true
		timeout 20 docker volume ls --format '{{.Name}}' 2>/dev/null | sed -n 's/^buildx_buildkit_//p' || true
	} | grep -E "^bx-$id-" || true
}

# The job's cgroup dir, if the host has a v2 hierarchy
cgroup_dirs() {
	local d
	for d in /sys/fs/cgroup/buildx-executor /sys/fs/cgroup/unified/buildx-executor; do
		[ -d "$d" ] && find "$d" -maxdepth 3 -type d -name "$(job_key "$1")" 2>/dev/null
	done
	return 0
}

# nothing_left ID: no state dir, working tree, cgroup or builder of the job
nothing_left() {
	local id=$1 bad=0
	if [ -e "$(state_dir_of "$id")" ]; then echo "#   state dir still there: $(state_dir_of "$id")"; bad=1; fi
	if [ -e "$(tree_of "$id")" ]; then echo "#   working tree still there: $(tree_of "$id")"; bad=1; fi
	if [ -n "$(cgroup_dirs "$id")" ]; then echo "#   cgroup still there: $(cgroup_dirs "$id")"; bad=1; fi
	if [ -n "$(leftover_builders "$id")" ]; then echo "#   builder still there: $(leftover_builders "$id")"; bad=1; fi
	return $bad
}

# ---- assertions ---------------------------------------------------------------

declare -A _CONTEXT_SHOWN=()
_context() {
	local case=$LAST_CASE
	[ -n "$case" ] || return 0
	# once per case: the first failure shows the logs, later ones refer to it
	if [ -n "${_CONTEXT_SHOWN[$case]:-}" ]; then
		echo "#   (logs of $case: see above)"
		return 0
	fi
	_CONTEXT_SHOWN[$case]=1
	if [ -f "$T/$case.log" ]; then
		echo "#   --- job log ($case), last 25 lines:"
		tail -n 25 "$T/$case.log" | cat -v | sed 's/^/#   | /'
	fi
	if [ -f "$T/$case.rlog" ]; then
		echo "#   --- runner log ($case), last 12 lines:"
		tail -n 12 "$T/$case.rlog" | cut -c1-400 | sed 's/^/#   | /'
	fi
	if [ -f "$T/$case.rlog" ] && grep -q 'cleanup_std=err' "$T/$case.rlog"; then
		echo "#   --- cleanup's stderr ($case), first 6 lines:"
		grep 'cleanup_std=err' "$T/$case.rlog" | head -n 6 | sed 's/^.* msg=/msg=/' | cut -c1-400 | sed 's/^/#   | /'
	fi
	if [ -f "$T/$case.result" ]; then
		echo "#   --- result: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print({k: r.get(k) for k in ("status","failure_reason","exit_code","message","prepare_attempts","cleanup_runs")})' "$T/$case.result")"
	fi
}

# check DESCRIPTION COMMAND...: the command's status decides
check() {
	local desc=$1
	shift
	if "$@"; then
		echo "ok - $desc"
		PASSED=$((PASSED + 1))
	else
		echo "not ok - $desc"
		echo "#   failed: $*" | cut -c1-500
		_context
		FAILED=$((FAILED + 1))
	fi
}

# The last line: "N passed, N failed"; non-zero on any failure.
finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

# ---- running a driver executable by hand ------------------------------------------

# drv STAGE JOB_ID [args...]: run buildx-executor-STAGE the way the runner does
#   for job JOB_ID (no JOB_RESPONSE_FILE: the CUSTOM_ENV_ identity), with
#   DRV_SETTINGS (default $SETTINGS) and BUILD_EXIT_CODE_FILE=$DRV_EXIT_FILE
#   when set.  Output to $T/drv.out / $T/drv.err; returns its exit status.
drv() {
	local stage=$1 id=$2
	shift 2
	local -a env=(PATH="$PATH" BUILD_FAILURE_EXIT_CODE=1 SYSTEM_FAILURE_EXIT_CODE=2
		CUSTOM_ENV_CI_JOB_ID="$id" CUSTOM_ENV_CI_PROJECT_ID=4242
		CUSTOM_ENV_CI_SERVER_URL="$SERVER_URL" CUSTOM_ENV_CI_CONCURRENT_ID=0)
	[ -n "${DRV_EXIT_FILE:-}" ] && env+=(BUILD_EXIT_CODE_FILE="$DRV_EXIT_FILE")
	env -i "${env[@]}" "$BX_PREFIX/bin/buildx-executor-$stage" --config "${DRV_SETTINGS:-$SETTINGS}" \
		"$@" >"$T/drv.out" 2>"$T/drv.err" </dev/null
}

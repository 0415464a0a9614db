#!/usr/bin/env bash
# The job's environment is built from nothing: no CUSTOM_ENV_*, none of the
# runner's protocol variables, nothing of the runner's own environment; HOME,
# TMPDIR and DOCKER_CONFIG are the job's private state; BUILDX_BUILDER names
# the job's builder; a job variable of the same name wins.
. "$(dirname "$0")/lib.sh"

# In the emulator's (the runner's) environment, so in every driver call's.
export BX_RUNNER_SECRET="marker-runner-env-$RANDOM$RANDOM"

ID=160100
state=$(state_dir_of $ID)
builder=$(builder_name $ID)
job_json "$ID" 'env > "$CI_PROJECT_DIR/../env.txt"' \
	'sed "s/^/ENV: /" "$CI_PROJECT_DIR/../env.txt"' \
	'echo "docker-contexts: $(docker context ls --format "{{.Name}}" | tr "\n" " ")"' \
	'echo "engine-version: $(docker version --format "{{.Server.Version}}")"'
run_emu env "$ID"

# the script's environment: "NAME=value" lines
envlines() { log_lines env | sed -n 's/^ENV: //p'; }
envval() { envlines | sed -n "s/^$1=//p" | head -n1; }
env_lacks() { [ "$(envlines | grep -cE "^$1")" = 0 ]; }
# every name is the driver's, bash's, or one the runner's script exports
unexpected_names() {
	envlines | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' | grep -vxE \
		'PATH|HOME|TMPDIR|DOCKER_CONFIG|DOCKER_HOST|DOCKER_CONTEXT|BUILDX_BUILDER|BUILDX_EXECUTOR_PLATFORMS|SSL_CERT_FILE|LANG|SHELL|PWD|OLDPWD|SHLVL|_|CI|CI_[A-Z0-9_]+|GITLAB_[A-Z0-9_]+|FF_[A-Z0-9_]+|RUNNER_TEMP_PROJECT_DIR' || true
}

check "status success" test "$(result_field status)" = success
check "the env dump is there" has_line env "ENV: CI_JOB_ID=$ID"
check "no CUSTOM_ENV_ entry" env_lacks CUSTOM_ENV_
for v in JOB_RESPONSE_FILE BUILD_EXIT_CODE_FILE BUILD_FAILURE_EXIT_CODE SYSTEM_FAILURE_EXIT_CODE BX_RUNNER_SECRET BX_PREFIX; do
	check "no $v" env_lacks "$v="
done
check "the runner's marker value appears nowhere in the job log" not_in_log env "$BX_RUNNER_SECRET"
check "no variable but the driver's, bash's and the runner's exports (unexpected: $(unexpected_names | tr '\n' ' '))" \
	test -z "$(unexpected_names)"
check "HOME=$state/home" test "$(envval HOME)" = "$state/home"
check "TMPDIR=$state/tmp" test "$(envval TMPDIR)" = "$state/tmp"
check "DOCKER_CONFIG=$state/docker" test "$(envval DOCKER_CONFIG)" = "$state/docker"
check "BUILDX_BUILDER=$builder" test "$(envval BUILDX_BUILDER)" = "$builder"
check "DOCKER_CONTEXT=$builder (driver docker)" test "$(envval DOCKER_CONTEXT)" = "$builder"
check "BUILDX_EXECUTOR_PLATFORMS=linux/amd64,linux/arm64" \
	test "$(envval BUILDX_EXECUTOR_PLATFORMS)" = linux/amd64,linux/arm64
check "SSL_CERT_FILE, if set, is inside the job's state dir" \
	bash -c "v=\$(sed -n 's/\x1b\[[0-9;]*[mK]//g; s/^ENV: SSL_CERT_FILE=//p' '$T/env.log'); [ -z \"\$v\" ] || [[ \$v == '$state/'* ]]"
check "the job's docker CLI reaches the engine" \
	has_line env "engine-version: $(docker version --format '{{.Server.Version}}')"
check "the job's docker CLI knows its builder's context" \
	bash -c "grep -aE '^docker-contexts: ' <(sed 's/\x1b\[[0-9;]*[mK]//g' '$T/env.log') | grep -w -- '$builder' >/dev/null"
check "nothing left" nothing_left "$ID"

# A job variable of the same name wins over the driver's.
ID2=160200
job_json --var "DOCKER_CONFIG=$T/job-own-docker-config" --var "HOME=/job-own-home" "$ID2" \
	'echo "DOCKER_CONFIG is $DOCKER_CONFIG"' 'echo "HOME is $HOME"' 'echo "TMPDIR is $TMPDIR"'
run_emu override "$ID2"
check "override: status success" test "$(result_field status)" = success
check "override: the job's DOCKER_CONFIG wins" has_line override "DOCKER_CONFIG is $T/job-own-docker-config"
check "override: the job's HOME wins" has_line override "HOME is /job-own-home"
check "override: the rest of the driver's environment is still there" \
	has_line override "TMPDIR is $(state_dir_of $ID2)/tmp"
check "override: nothing left" nothing_left "$ID2"

finish

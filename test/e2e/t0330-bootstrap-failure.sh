#!/usr/bin/env bash
# A builder that cannot bootstrap (its image does not exist) fails prepare as
# a system failure carrying buildx's own error text, and leaves nothing
# behind: no container, no volume, no job directory.
. "$(dirname "$0")/lib.sh"

e2e_setup 3130 '[builder]' 'driver = "docker-container"' \
  "image = \"$BX_TEST_REGISTRY/nonexistent/buildkit:none\"" 'bootstrap_timeout = 60'
check "the job fails" fails e2e_run
check "as a system failure" test "$(result_field failure_reason)" = runner_system_failure
check "prepare was tried three times" test "$(result_field prepare_attempts)" = 3
check "the job log carries the builder's own error" \
  grep -qE "builder 'bx-3130-[0-9a-f]*' \(docker-container driver\): .*(not found|manifest unknown|pull access denied|no basic auth)" "$E2E_WORK/job.log"
check "cleanup left no builder, container, volume or job directory" nothing_left
e2e_done

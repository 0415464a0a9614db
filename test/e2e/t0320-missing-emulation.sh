#!/usr/bin/env bash
# A platform that cannot be emulated: with the aarch64 handler unregistered
# and [emulation] mode = "none", prepare must fail as a system failure that
# names the platform and the missing handler -- not leave the job to die
# later with "exec format error".  Registration is host-wide: ctest runs
# this test alone, and it puts the handler back whatever happens.
. "$(dirname "$0")/lib.sh"

restore() { bash "$BX_SOURCE_DIR/test/env/binfmt.sh" register qemu-aarch64 >/dev/null; e2e_cleanup; }
trap restore EXIT
bash "$BX_SOURCE_DIR/test/env/binfmt.sh" unregister qemu-aarch64 >/dev/null

e2e_setup 3120 '[builder]' 'driver = "docker"' '[emulation]' 'mode = "none"'
check "the job fails" fails e2e_run
check "as a system failure" test "$(result_field failure_reason)" = runner_system_failure
check "prepare said which platform and which handler" \
  grep -q "platform 'linux/arm64' is not available in builder 'bx-3120-[0-9a-f]*': binfmt_misc handler 'qemu-aarch64' is missing" "$E2E_WORK/job.log"
check "and what to do" grep -q "qemu-user-static" "$E2E_WORK/job.log"
check "no build step ran" fails grep -q 'stage=build_script' "$E2E_WORK/runner.log"
check "cleanup left nothing" nothing_left

# mode = "host" registers the handler again from qemu-user-static: the same job passes.
rm -rf "$E2E_WORK/repo" "$E2E_WORK/log"
e2e_setup 3121 '[builder]' 'driver = "docker"' '[emulation]' 'mode = "host"'
bash "$BX_SOURCE_DIR/test/env/binfmt.sh" unregister qemu-aarch64 >/dev/null
check "with mode = host the driver registers the handler and the job succeeds" e2e_run_retrying_known_flake
check "the job log says it registered the handler" grep -q "qemu-aarch64 (ok, registered now)" "$E2E_WORK/job.log"
check "the handler has the F flag" grep -q "flags: .*F" /proc/sys/fs/binfmt_misc/qemu-aarch64
e2e_done

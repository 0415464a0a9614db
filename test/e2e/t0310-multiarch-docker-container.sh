#!/usr/bin/env bash
# The same job with [builder] driver = "docker-container": a BuildKit
# container per job, configured by the buildkitd.toml prepare generates (the
# registry's CA among it).  It needs the BuildKit image, which lives on Docker
# Hub: without it locally this test reports itself skipped (exit 77), never
# passed.
. "$(dirname "$0")/lib.sh"

image=${BX_TEST_BUILDKIT_IMAGE:-moby/buildkit:buildx-stable-1}
if ! docker image inspect "$image" >/dev/null 2>&1; then
  echo "SKIP: the BuildKit image '$image' is not present locally and Docker Hub is unreachable here;"
  echo "SKIP: load it (docker load) or set BX_TEST_BUILDKIT_IMAGE to run this test"
  exit 77
fi

e2e_setup 3110 '[builder]' 'driver = "docker-container"' "image = \"$image\""
check "the job succeeds" e2e_run
check "prepare showed the builder in the job log" grep -q "builder:       bx-3110-.* (docker-container driver)" "$E2E_WORK/job.log"
check "the registry holds an index of exactly linux/amd64 and linux/arm64" \
  registry_check --expect-platforms linux/amd64,linux/arm64
check "the arm64 image's /arch says aarch64: QEMU ran" \
  registry_check --file-in-last-layer /arch --platform linux/arm64 --expect-content aarch64
check "cleanup left no builder, context, container, volume, cgroup or job directory" nothing_left
e2e_done

#!/usr/bin/env bash
# The seed's job builds linux/amd64 and linux/arm64 in one buildx build and
# pushes them, through the driver with [builder] driver = "docker": a per-job
# docker context on the engine's embedded BuildKit (containerd image store).
. "$(dirname "$0")/lib.sh"

e2e_setup 3100 '[builder]' 'driver = "docker"'

check "the job succeeds" e2e_run_retrying_known_flake
check "prepare showed the builder in the job log" grep -q "builder:       bx-3100-.* (docker driver)" "$E2E_WORK/job.log"
check "prepare showed both platforms" grep -q "platforms:     linux/amd64,linux/arm64" "$E2E_WORK/job.log"
check "the registry holds an index of exactly linux/amd64 and linux/arm64" \
  registry_check --expect-platforms linux/amd64,linux/arm64
check "the arm64 image's /arch says aarch64: QEMU ran" \
  registry_check --file-in-last-layer /arch --platform linux/arm64 --expect-content aarch64
check "the amd64 image's /arch says x86_64" \
  registry_check --file-in-last-layer /arch --platform linux/amd64 --expect-content x86_64
check "cleanup left no builder, context, container, volume, cgroup or job directory" nothing_left
check "the ops record has the builder event" grep -q '"event":"builder","outcome":"ok"' "$E2E_WORK"/log/job-3100-*.jsonl
e2e_done

#!/usr/bin/env bash
# The README's first command: on a fresh Debian 12 machine, as root, install
# and start dockerd, buildx, QEMU and a TLS registry, build and install the
# driver, and run the seed's multi-arch job through it with the runner
# emulator.  Prints the job log and the pushed index (platforms, digests).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
  echo "test/demo.sh: must run as root (it installs packages and starts dockerd); use sudo" >&2
  exit 2
fi

echo "== installing and starting dockerd, buildx, QEMU and the test registry"
bash "$top/test/env/install.sh"
bash "$top/test/env/start.sh"

echo "== building and installing the driver"
build=$top/build-demo
cmake -S "$top" -B "$build" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
cmake --install "$build" --prefix "$build/_install" >/dev/null
export BX_PREFIX=$build/_install BX_SOURCE_DIR=$top

# shellcheck source=test/e2e/lib.sh
. "$top/test/e2e/lib.sh"
e2e_setup "$((4000 + RANDOM % 1000))" '[builder]' 'driver = "docker"'

echo "== the job (.gitlab-ci.yml, without image: docker and services: docker:dind)"
echo "   script: docker buildx build --platform \$PLATFORM -t \$HARBOR_HOST/\$HARBOR_PROJECT/\$NAME:dev-\${CI_COMMIT_SHORT_SHA} -f Dockerfile-multi . --push"
echo "== running it through $BX_PREFIX/bin/buildx-executor-{config,prepare,run,cleanup}"
status=0
e2e_run_retrying_known_flake || status=$?
sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/\r/\n/g' "$E2E_WORK/job.log" | grep -v '^export ' | grep -v '^$'
if [ "$status" != 0 ]; then
  echo "== the job failed; the runner log:" >&2
  tail -n 20 "$E2E_WORK/runner.log" >&2
  exit 1
fi

echo
echo "== pushed: $BX_TEST_REGISTRY/$E2E_REPO:$E2E_TAG (read back over the registry's HTTP API)"
registry_check --expect-platforms linux/amd64,linux/arm64
registry_check --file-in-last-layer /arch --platform linux/arm64 --expect-content aarch64 | tail -n 1
registry_check --file-in-last-layer /arch --platform linux/amd64 --expect-content x86_64 | tail -n 1
nothing_left && echo "== cleanup left nothing of the job behind"

#!/usr/bin/env bash
# Run every test of buildx-executor on this machine, as root:
#   install what is missing (apt-get), start dockerd, QEMU and the test
#   registry, build with warnings as errors and ASan/UBSan, run ctest.
# The last lines are ctest's own summary.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BX_BUILD_DIR:-$top/build-test}

if [ "$(id -u)" != 0 ]; then
  echo "test/run-all.sh: must run as root (it installs packages and starts dockerd); use sudo" >&2
  exit 2
fi

bash "$top/test/env/install.sh"
bash "$top/test/env/start.sh"

cmake -S "$top" -B "$build" -DBX_WERROR=ON -DBX_SANITIZE=address,undefined \
  -DCMAKE_BUILD_TYPE=Debug >"$build.cmake.log" 2>&1 || { cat "$build.cmake.log" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)"

cd "$build"
exec ctest --output-on-failure --timeout 900 "$@"

#!/usr/bin/env bash
# The database on a file system that fills up while `sipman run` stores a
# replay: the failure is logged at once (path and reason), shown in the
# status line, /healthz and /metrics, and once there is room again every
# call, registration and message is stored, exactly as `sipman analyze` of
# the same capture stores them. Checks are in store_full_disk_test.py; it
# prints "N passed, M failed". Needs root: it mounts a small tmpfs, inside a
# mount namespace of its own (unshare -m), so the mount goes with the test.
set -euo pipefail
sipman=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (mounts a 3 MiB tmpfs for the database)"
for t in python3 unshare mount umount; do
  command -v $t >/dev/null || skip "$t missing"
done
unshare -m --propagation private true 2>/dev/null ||
  skip "cannot make a mount namespace (unshare -m failed: a container without CAP_SYS_ADMIN?)"
case "$sipman" in /*) ;; *) sipman=$PWD/$sipman;; esac
work=$(mktemp -d)
# The tmpfs lives in the namespace and goes with it; umount is for safety.
trap 'umount "$work/full" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/full"
timeout 900 unshare -m --propagation private \
  python3 "$root/tests/integration/store_full_disk_test.py" "$sipman" "$work"

# Sourced by the UI's Node tests: $root, $tsc (ui/node_modules' TypeScript
# compiler) and a scratch $work removed on exit; exit 77 (skip) without node
# or without ui/node_modules (npm ci in ui/).
set -euo pipefail
command -v node >/dev/null || { echo "SKIP: node missing"; exit 77; }
root=$(cd "$(dirname "$0")/../.." && pwd)
tsc=$root/ui/node_modules/typescript/bin/tsc
[ -f "$tsc" ] || { echo "SKIP: $root/ui/node_modules has no typescript (run npm ci in ui/)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

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

# Compiles one UI module (a path under ui/src) and what it imports to
# $work/out with lib ES2020 alone, so that a module that needs the DOM fails
# to compile; relative imports get ".js" (Vite resolves them without, Node's
# ES modules need it).
compile_module() {
  cat >"$work/tsconfig.json" <<JSON
{
  "compilerOptions": {
    "target": "ES2020", "module": "ES2020", "moduleResolution": "bundler",
    "lib": ["ES2020"], "types": [], "strict": true, "skipLibCheck": true,
    "noEmitOnError": true, "rootDir": "$root/ui/src", "outDir": "$work/out"
  },
  "files": ["$root/ui/src/$1"]
}
JSON
  node "$tsc" -p "$work/tsconfig.json"
  find "$work/out" -name '*.js' -exec sed -i -E "s#(from '\.{1,2}/[^']*)';#\1.js';#" {} +
  echo '{"type": "module"}' >"$work/out/package.json"
}

#!/usr/bin/env bash
# The dashboard's time window (ui/src/pages/dashboard/window.ts) without a
# browser: the TypeScript compiler of ui/node_modules compiles it (and the
# types it imports) to a temporary directory, and `node --test` runs
# window_test.mjs against the JavaScript. Skipped (77) without node or
# without ui/node_modules (npm ci in ui/).
source "$(dirname "$0")/node_env.sh"
# The window module must need no DOM: lib is ES2020 alone.
cat >"$work/tsconfig.json" <<JSON
{
  "compilerOptions": {
    "target": "ES2020", "module": "ES2020", "moduleResolution": "bundler",
    "lib": ["ES2020"], "types": [], "strict": true, "skipLibCheck": true,
    "noEmitOnError": true, "rootDir": "$root/ui/src", "outDir": "$work/out"
  },
  "files": ["$root/ui/src/pages/dashboard/window.ts"]
}
JSON
node "$tsc" -p "$work/tsconfig.json"
echo '{"type": "module"}' >"$work/out/package.json"
WINDOW_JS=$work/out/pages/dashboard/window.js node --test "$root/tests/ui/window_test.mjs"

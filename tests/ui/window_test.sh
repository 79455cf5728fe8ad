#!/usr/bin/env bash
# The dashboard's time window (ui/src/pages/dashboard/window.ts) without a
# browser: the TypeScript compiler of ui/node_modules compiles it (and the
# types it imports) to a temporary directory, and `node --test` runs
# window_test.mjs against the JavaScript. Skipped (77) without node or
# without ui/node_modules (npm ci in ui/).
source "$(dirname "$0")/node_env.sh"
compile_module pages/dashboard/window.ts
WINDOW_JS=$work/out/pages/dashboard/window.js node --test "$root/tests/ui/window_test.mjs"

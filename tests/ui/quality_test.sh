#!/usr/bin/env bash
# The dashboard's Call quality panel (ui/src/pages/dashboard/quality.ts: MOS
# bins per class, the worst calls, the one-way and no-media counts) without
# a browser: the TypeScript compiler of ui/node_modules compiles it (and
# media.ts and the types it imports) to a temporary directory, and
# `node --test` runs quality_test.mjs against the JavaScript. Skipped (77)
# without node or without ui/node_modules (npm ci in ui/).
source "$(dirname "$0")/node_env.sh"
compile_module pages/dashboard/quality.ts
QUALITY_JS=$work/out/pages/dashboard/quality.js node --test "$root/tests/ui/quality_test.mjs"

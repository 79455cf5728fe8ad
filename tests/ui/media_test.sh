#!/usr/bin/env bash
# The call media's classification and formatting (ui/src/media.ts: MOS
# classes, media_flags labels, the rows of the call page's Media panel)
# without a browser: the TypeScript compiler of ui/node_modules compiles it
# (and the types it imports) to a temporary directory, and `node --test`
# runs media_test.mjs against the JavaScript. Skipped (77) without node or
# without ui/node_modules (npm ci in ui/).
source "$(dirname "$0")/node_env.sh"
compile_module media.ts
MEDIA_JS=$work/out/media.js node --test "$root/tests/ui/media_test.mjs"

#!/usr/bin/env bash
# The call page's RTP streams arithmetic (ui/src/media_intervals.ts: the
# per-interval chart's series aligned on one time axis, loss per interval,
# the stream table's rows; and ui/src/scale.ts, the axes) without a
# browser: the TypeScript compiler of ui/node_modules compiles it (and
# what it imports) to a temporary directory, and `node --test` runs
# media_intervals_test.mjs against the JavaScript. Skipped (77) without
# node or without ui/node_modules (npm ci in ui/).
source "$(dirname "$0")/node_env.sh"
compile_module media_intervals.ts
MEDIA_INTERVALS_JS=$work/out/media_intervals.js node --test "$root/tests/ui/media_intervals_test.mjs"

#!/usr/bin/env bash
# The alerts' pure logic (ui/src/alerts.ts: severity order, values with
# units and thresholds with directions, evidence as IP or Call-ID and its
# links, relative times, the set of firing alerts under stream events, the
# history's filter and updates, the timeline's lanes, the rule gauges)
# without a browser: the TypeScript compiler of ui/node_modules compiles it
# (and the types it imports) to a temporary directory, and `node --test`
# runs alerts_test.mjs against the JavaScript. Skipped (77) without node or
# without ui/node_modules (npm ci in ui/).
source "$(dirname "$0")/node_env.sh"
compile_module alerts.ts
ALERTS_JS=$work/out/alerts.js node --test "$root/tests/ui/alerts_test.mjs"

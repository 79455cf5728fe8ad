#!/usr/bin/env bash
# The Statistics page's Media quality section, its arithmetic
# (ui/src/pages/stats/quality.ts: the rows of GET /api/v1/stats/quality as
# periods on a time axis or as bars per codec or IP, with the share of poor
# streams) without a browser: the TypeScript compiler of ui/node_modules
# compiles it (and what it imports) to a temporary directory, and
# `node --test` runs stats_quality_test.mjs against the JavaScript. Skipped
# (77) without node or without ui/node_modules (npm ci in ui/).
source "$(dirname "$0")/node_env.sh"
compile_module pages/stats/quality.ts
STATS_QUALITY_JS=$work/out/pages/stats/quality.js node --test "$root/tests/ui/stats_quality_test.mjs"

#!/usr/bin/env bash
# The call media's classification and formatting (ui/src/media.ts: MOS
# classes, media_flags labels, the rows of the call page's Media panel)
# without a browser: the TypeScript compiler of ui/node_modules compiles it
# (and the types it imports) to a temporary directory, and `node --test`
# runs media_test.mjs against the JavaScript. Skipped (77) without node or
# without ui/node_modules (npm ci in ui/).
source "$(dirname "$0")/node_env.sh"
# The media module must need no DOM: lib is ES2020 alone.
cat >"$work/tsconfig.json" <<JSON
{
  "compilerOptions": {
    "target": "ES2020", "module": "ES2020", "moduleResolution": "bundler",
    "lib": ["ES2020"], "types": [], "strict": true, "skipLibCheck": true,
    "noEmitOnError": true, "rootDir": "$root/ui/src", "outDir": "$work/out"
  },
  "files": ["$root/ui/src/media.ts"]
}
JSON
node "$tsc" -p "$work/tsconfig.json"
echo '{"type": "module"}' >"$work/out/package.json"
MEDIA_JS=$work/out/media.js node --test "$root/tests/ui/media_test.mjs"

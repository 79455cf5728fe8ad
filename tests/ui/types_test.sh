#!/usr/bin/env bash
# The UI's API types (ui/src/types) against the API's pinned answers
# (tests/golden/api_responses.json): types_golden.mjs writes every JSON
# answer as an object literal of its endpoint's type, and the TypeScript
# compiler of ui/node_modules checks them. A field renamed, added or
# removed on either side fails. Skipped (77) without node or without
# ui/node_modules (npm ci in ui/).
source "$(dirname "$0")/node_env.sh"
node "$root/tests/ui/types_golden.mjs" "$root" "$work/answers.ts"
cat >"$work/tsconfig.json" <<JSON
{
  "compilerOptions": {
    "target": "ES2020", "module": "ES2020", "moduleResolution": "bundler",
    "lib": ["ES2020"], "types": [], "strict": true, "skipLibCheck": true, "noEmit": true
  },
  "files": ["$work/answers.ts"]
}
JSON
node "$tsc" -p "$work/tsconfig.json"
echo "the answers match their types"

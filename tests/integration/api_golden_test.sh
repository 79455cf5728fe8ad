#!/usr/bin/env bash
# The web API's answers, byte for byte: api_golden_test.py builds a database
# with `sipman analyze` from fixed captures (tests/fixtures/pcaps/ and one
# written from scripts/make-test-pcaps' functions), starts `sipman serve`,
# sends a fixed list of requests covering every read endpoint of
# docs/API.md and compares status, Content-Type, a few headers and the body
# with tests/golden/api_responses.json.
#
#   bash tests/integration/api_golden_test.sh build/sipman            # compare
#   bash tests/integration/api_golden_test.sh build/sipman --update   # rewrite
#
# Update only when an API change is intended; the diff of
# tests/golden/api_responses.json is the review.
set -euo pipefail
sipman=$1
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
skip() { echo "SKIP: $*"; exit 77; }
"$sipman" serve --help >/dev/null 2>&1 || skip "$sipman has no serve command"
command -v python3 >/dev/null || { echo "FAIL: python3 missing (scripts/bootstrap installs it)"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$root/tests/integration/api_golden_test.py" "$sipman" "$work" "$@"

#!/usr/bin/env bash
# sipman messages as a user meets it: formats, exit codes, damaged input.
exec python3 "$(dirname "$0")/cli_test.py" "$@"

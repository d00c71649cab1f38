#!/usr/bin/env bash
# Black-box fuzzing of the real server with schemathesis in GraphQL mode.
#
# Starts the release binary on a fresh SQLite database in a temp dir on a free loopback port,
# seeds it (scripts/blackbox_seed.py: an organization whose ADMIN token the fuzzer uses, a
# partner, depots, drivers, routes, a share), generates operations for every root Query and
# Mutation field of schema.graphql (the served schema) and fails on any 5xx, any error with
# extensions.code INTERNAL_SERVER_ERROR, any response without a GraphQL body
# (scripts/blackbox_hooks.py), and on schemathesis' response_schema_conformance and
# negative_data_rejection checks. Afterwards the server must still answer /healthz. Prints the
# operations sent per root field and every failure.
#
# Usage: scripts/blackbox-fuzz.sh
#   FUZZ_MAX_EXAMPLES   generated cases per root field (default 150: about 6,000 operations)
#   FUZZ_SEED           a fixed schemathesis seed (each run prints the one it used); the
#                       seeded records get new IDs each run, so a replay is close, not exact
#   FUZZ_TIME_LIMIT     seconds schemathesis may run before it is stopped (default 360)
#   FUZZ_DATABASE_URL   a fresh, empty database to use instead of a new SQLite file
#   FUZZ_KEEP           1: keep the temp dir (server log, NDJSON report) after the run
#   LASTMILE_BIN        the binary (default: $CARGO_TARGET_DIR/release/lastmile)
#   LASTMILE_TOOLS      where the schemathesis venv lives (default: ~/.cache/lastmile-tools);
#                       created there with pip when missing or at another version
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-150}"
TIME_LIMIT="${FUZZ_TIME_LIMIT:-360}"
MIN_OPERATIONS=1000
START_TIMEOUT=30
TOOLS="${LASTMILE_TOOLS:-$HOME/.cache/lastmile-tools}"
VENV="$TOOLS/venv"
BIN="${LASTMILE_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/lastmile-target}/release/lastmile}"

[[ -x "$BIN" ]] || { echo "no binary at $BIN: run \`cargo build --release\` (or set LASTMILE_BIN)" >&2; exit 2; }

if [[ "$("$VENV/bin/st" --version 2>/dev/null)" != *"version $SCHEMATHESIS_VERSION" ]]; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  mkdir -p "$TOOLS"
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  timeout 600 "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lastmile-fuzz.XXXXXX")"
SERVER_PID=
FUZZER_PID=
cleanup() {
  local status=$?
  if [[ -n "$FUZZER_PID" ]]; then
    kill -TERM "$FUZZER_PID" 2>/dev/null || true # timeout passes it on to schemathesis
    wait "$FUZZER_PID" 2>/dev/null || true
  fi
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ "${FUZZ_KEEP:-0}" == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
ORIGIN="http://127.0.0.1:$PORT"
mkdir -p "$WORK/mail"
(
  cd "$WORK"
  # Only these settings: nothing from the calling environment (REDIS_URL, PRODUCTION, …).
  # Every request comes from one loopback address: its credential budget is lifted so the
  # credential operations are exercised (the per-email budgets still apply).
  exec env -i PATH="$PATH" HOME="$HOME" LISTEN_ADDR="127.0.0.1:$PORT" PUBLIC_URL="$ORIGIN" \
    DATABASE_URL="${FUZZ_DATABASE_URL:-sqlite://$WORK/lastmile.db?mode=rwc}" \
    MAIL_DIR="$WORK/mail" ACCESS_TOKEN_TTL=3600 RUST_LOG="${RUST_LOG:-warn}" \
    CLIENT_CREDENTIAL_ATTEMPTS=1000000 \
    "$BIN" serve
) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

healthy() { curl -fsS -m 2 -o /dev/null "$ORIGIN/healthz" 2>/dev/null; }
deadline=$((SECONDS + START_TIMEOUT))
until healthy; do
  if ! kill -0 "$SERVER_PID" 2>/dev/null || ((SECONDS > deadline)); then
    echo "the server did not come up on $ORIGIN within ${START_TIMEOUT}s; its log:" >&2
    cat "$WORK/server.log" >&2
    exit 1
  fi
  sleep 0.2
done
echo "server $("$BIN" --version) on $ORIGIN (pid $SERVER_PID), work dir $WORK"

timeout 60 python3 "$ROOT/scripts/blackbox_seed.py" "$ORIGIN/graphql" "$WORK/mail" "$WORK"

seed_args=()
[[ -n "${FUZZ_SEED:-}" ]] && seed_args=(--seed "$FUZZ_SEED")
# Schemathesis' not_a_server_error and positive_data_acceptance judge GraphQL errors by codes of
# other servers (NOT_FOUND or BAD_USER_INPUT for valid-looking input would fail them); the hooks'
# checks replace them. SCHEMATHESIS_HOOKS is read by `st` itself.
# Run from the work dir: schemathesis and hypothesis keep their caches in the current directory.
# In the background, so that a signal reaches the trap at once (`wait` is interruptible).
st_status=0
(cd "$WORK" && SCHEMATHESIS_HOOKS="$ROOT/scripts/blackbox_hooks.py" exec timeout --kill-after=10 "$TIME_LIMIT" \
  "$VENV/bin/st" --config-file "$WORK/schemathesis.toml" --no-color run "$ROOT/schema.graphql" \
  --url "$ORIGIN/graphql" \
  --header "Authorization: Bearer $(cat "$WORK/token")" \
  --max-examples "$MAX_EXAMPLES" "${seed_args[@]}" \
  --exclude-checks not_a_server_error,positive_data_acceptance \
  --request-timeout 15 --workers 2 --generation-database none \
  --report ndjson --report-ndjson-path "$WORK/report.ndjson" \
  >"$WORK/schemathesis.log" 2>&1) &
FUZZER_PID=$!
wait "$FUZZER_PID" || st_status=$?
FUZZER_PID=
# Schemathesis' own account: failures with a curl line to reproduce each, the seed.
grep -v '^  - ' "$WORK/schemathesis.log" | sed -n '/FAILURES\|ERRORS\|SUMMARY/,$p'
if ((st_status == 124 || st_status == 137)); then
  echo "FAILED: schemathesis did not finish within ${TIME_LIMIT}s (FUZZ_TIME_LIMIT)"
elif ((st_status != 0 && st_status != 1)); then
  echo "FAILED: schemathesis exited with status $st_status; its output:"
  cat "$WORK/schemathesis.log"
fi

alive=1
if ! kill -0 "$SERVER_PID" 2>/dev/null || ! healthy; then
  alive=0
  echo "FAILED: the server is no longer answering /healthz; the end of its log:"
  tail -n 50 "$WORK/server.log"
fi

report_status=0
if [[ -s "$WORK/report.ndjson" ]]; then
  "$VENV/bin/python" "$ROOT/scripts/blackbox_report.py" "$WORK/report.ndjson" "$ROOT/schema.graphql" \
    --min-operations "$MIN_OPERATIONS" || report_status=$?
else
  echo "FAILED: schemathesis wrote no report"
  report_status=1
fi
if grep -q 'panicked' "$WORK/server.log"; then
  echo "FAILED: the server log has a panic:"
  grep -A5 'panicked' "$WORK/server.log" | head -n 40
  report_status=1
fi

((st_status == 0 && alive == 1 && report_status == 0))

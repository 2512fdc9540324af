#!/usr/bin/env bash
# bench/run.sh — measure the real "maillab up" over loopback, and Postfix's
# smtp-sink beside it when it is installed (apt-get install postfix), so
# that every figure has a reference measured in the same run.
#
#   bash bench/run.sh            # default counts
#   N=20000 bash bench/run.sh    # more messages per measurement
#
# It prints one line per measurement (from bench/smtpload) and the peak
# resident memory of the maillab process. Every socket is on 127.0.0.1;
# every load is bounded in count (N) and time (60 s).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/maillab" ./cmd/maillab
go build -o "$work/smtpload" ./bench/smtpload

# up SCENARIO → sets ADDR (the first SMTP endpoint) and PID.
up() {
  local out="$work/up-$RANDOM.json"
  "$work/maillab" up --json --no-color --dir "$work/state-$RANDOM" "$1" >"$out" 2>/dev/null &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 100); do
    [ -s "$out" ] && break
    sleep 0.1
  done
  ADDR=$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); print([a["listen"]["smtp"] for a in i["agents"] if "smtp" in a["listen"]][0])' "$out")
}

peak() { awk '/VmHWM/ {printf "%.1f MB\n", $2/1024}' "/proc/$1/status"; }

load() { "$work/smtpload" -addr "$ADDR" -n "$N" -max-time 60s "$@"; }

echo "== maillab, durable: MTA -> LMTP -> MDA -> Maildir (group-committed syncfs) before each 250"
up bench/durable.yaml
load -c 10 -per-conn 1
load -c 10 -per-conn 10
echo "peak RSS after 10 sessions: $(peak "$PID")"
kill -INT "$PID"; wait "$PID" || true

echo "== maillab, memory at 50 concurrent sessions (durable)"
up bench/durable.yaml
load -c 50 -per-conn 10
echo "peak RSS at 50 sessions: $(peak "$PID")"
kill -INT "$PID"; wait "$PID" || true

echo "== maillab sink: storage switched off (one message per connection, as smtp-sink is measured)"
up bench/sink.yaml
load -c 10 -per-conn 1
echo "peak RSS: $(peak "$PID")"
kill -INT "$PID"; wait "$PID" || true

if command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ]; then
  sink=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
  echo "== reference: Postfix smtp-sink, same load"
  "$sink" -c 127.0.0.1:2599 1000 >/dev/null 2>&1 &
  spid=$!; pids+=("$spid")
  sleep 0.5
  ADDR=127.0.0.1:2599
  load -c 10 -per-conn 1
  kill "$spid" 2>/dev/null || true
else
  echo "== Postfix's smtp-sink not installed (apt-get install postfix): no reference in this run"
fi

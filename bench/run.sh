#!/usr/bin/env bash
# bench/run.sh — measure the real "maillab up" over loopback, and Postfix
# beside it when it is installed (apt-get install postfix; see
# bench/postfix.sh: a private instance delivering to Maildir, and
# smtp-sink), so that every figure has a reference measured in the same run.
#
#   bash bench/run.sh            # default counts
#   N=20000 bash bench/run.sh    # more messages per measurement
#
# It prints one line per measurement (from bench/smtpload) and the peak
# resident memory of the maillab process, then Postfix's figures, then a
# summary of the ratios our targets are stated in. Every socket is on
# 127.0.0.1; every load is bounded in count (N) and time (60 s).
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

# Figures for the summary are kept as "key value" lines in $results
# (bench/postfix.sh appends its own there).
results=$work/results
: >"$results"
record() { echo "$1 $2" >>"$results"; }
result() { awk -v k="$1" '$1 == k {v = $2} END {print v}' "$results"; }

# load KEY ARGS... runs smtpload, prints its line and records its rate.
load() {
  local key=$1; shift
  local out
  out=$("$work/smtpload" -addr "$ADDR" -n "$N" -max-time 60s "$@")
  echo "$out"
  record "$key" "$(sed -n 's/.* rate=\([0-9]*\) msg\/s.*/\1/p' <<<"$out")"
}

echo "== maillab, durable: MTA -> LMTP -> MDA -> Maildir (group-committed syncfs) before each 250"
up bench/durable.yaml
load maillab_c10_pc1 -c 10 -per-conn 1
load maillab_c10_pc10 -c 10 -per-conn 10
echo "peak RSS after 10 sessions: $(peak "$PID")"
kill -INT "$PID"; wait "$PID" || true

echo "== maillab, memory at 50 concurrent sessions (durable)"
up bench/durable.yaml
load maillab_c50_pc10 -c 50 -per-conn 10
rss50=$(peak "$PID")
echo "peak RSS at 50 sessions: $rss50"
record maillab_rss50_mb "${rss50% MB}"
kill -INT "$PID"; wait "$PID" || true

echo "== maillab sink: storage switched off (one message per connection, as smtp-sink is measured)"
up bench/sink.yaml
load maillab_sink_c10_pc1 -c 10 -per-conn 1
echo "peak RSS: $(peak "$PID")"
kill -INT "$PID"; wait "$PID" || true

# The reference: a private Postfix instance and smtp-sink under the same
# loads (bench/postfix.sh says "not installed" and does nothing otherwise).
N=$N SMTPLOAD=$work/smtpload RESULTS=$results bash bench/postfix.sh ||
  echo "== the Postfix reference failed (see above): its ratios are n/a"

# ratio A B → A/B with two decimals, or "n/a" when either is missing.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}
# verdict RATIO OP TARGET → "ok" or "MISSED" (or nothing without a figure).
verdict() {
  awk -v r="$1" -v t="$3" -v op="$2" 'BEGIN {
    if (r == "n/a" || r == "") exit
    ok = (op == ">=") ? (r + 0 >= t + 0) : (r + 0 < t + 0)
    print (ok ? "ok" : "MISSED") }'
}

echo "== summary (N=$N; targets from the issue)"
d=$(result maillab_c10_pc1); pa=$(result postfix_c10_pc1_accepted); pd=$(result postfix_c10_pc1_delivered)
r=$(ratio "$d" "$pa")
echo "durable, 10 sessions, 1 per conn: maillab ${d:-?} msg/s / Postfix accepted ${pa:-?} msg/s = $r (target >= 2.00) $(verdict "$r" '>=' 2)"
echo "    (Postfix delivered into Maildir at ${pd:-?} msg/s: maillab / that = $(ratio "$d" "$pd"))"
k=$(result maillab_sink_c10_pc1); ss_=$(result smtp_sink_c10_pc1)
r=$(ratio "$k" "$ss_")
echo "sink, 10 sessions, 1 per conn: maillab ${k:-?} msg/s / smtp-sink ${ss_:-?} msg/s = $r (target >= 0.50) $(verdict "$r" '>=' 0.5)"
m=$(result maillab_rss50_mb)
echo "peak RSS at 50 sessions: ${m:-?} MB (target < 45 MB) $(verdict "$m" '<' 45)"

#!/usr/bin/env bash
# bench/profile.sh — the cost per message of maillab's durable path
# (MTA -> LMTP -> MDA -> Maildir, bench/durable.yaml), in figures that a
# busy machine does not distort as much as a rate: the CPU time (user and
# system) of the maillab process per message, and the system calls per
# message, counted by the kernel's tracepoints (perf stat, which barely
# slows the process) or, with STRACE=1, by strace -f -c (which slows it
# tenfold and changes how deliveries batch their syncfs: its syncfs count
# is about twice the real one).
#
#   bash bench/profile.sh                  # N=5000
#   STRACE=1 N=2000 bash bench/profile.sh  # the whole syscall table, by strace
#   MAILLAB=/path/maillab bash bench/profile.sh   # a prebuilt binary
#
# The CPU per message is that of the whole maillab process (MTA, MDA,
# transcripts); on a shared machine it still rises with the load (cache
# and scheduler contention), so compare figures taken one after the other.
#
# The load is bench/smtpload's "-c 10 -per-conn 1" (the target line of
# bench/run.sh). Everything listens on 127.0.0.1 and is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000}
work=$(mktemp -d)
pid=
trace=
cleanup() {
  if [ -n "$trace" ]; then kill -INT "$trace" 2>/dev/null || true; fi
  if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${MAILLAB:-}" ]; then
  MAILLAB=$work/maillab
  go build -o "$MAILLAB" ./cmd/maillab
fi
if [ -z "${SMTPLOAD:-}" ]; then
  SMTPLOAD=$work/smtpload
  go build -o "$SMTPLOAD" ./bench/smtpload
fi

out=$work/up.json
"$MAILLAB" up --json --no-color --dir "$work/state" bench/durable.yaml >"$out" 2>/dev/null &
pid=$!
for _ in $(seq 100); do
  [ -s "$out" ] && break
  sleep 0.1
done
addr=$(python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); print([a["listen"]["smtp"] for a in i["agents"] if "smtp" in a["listen"]][0])' "$out")

# A short warm-up (connection pools, the Maildir's directories, the heap).
"$SMTPLOAD" -addr "$addr" -n 200 -c 10 -per-conn 1 >/dev/null

# cpu → user+system clock ticks of the maillab process so far.
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)

syscalls="syncfs openat close write writev fcntl epoll_ctl renameat renameat2 newfstatat futex nanosleep"
if [ -n "${STRACE:-}" ]; then
  strace -f -c -o "$work/strace" -p "$pid" 2>/dev/null &
  trace=$!
  sleep 1
elif command -v perf >/dev/null; then
  events=raw_syscalls:sys_enter
  for c in $syscalls; do events=$events,syscalls:sys_enter_$c; done
  perf stat -x, -o "$work/perf" -e "$events" -p "$pid" 2>/dev/null &
  trace=$!
  sleep 0.5
fi
c0=$(cpu)
"$SMTPLOAD" -addr "$addr" -n "$N" -max-time 120s -c 10 -per-conn 1
c1=$(cpu)
awk -v a="$c0" -v b="$c1" -v hz="$hz" -v n="$N" 'BEGIN {
  printf "maillab CPU (user+sys): %.1f s for %d messages = %.0f us/message\n", (b - a) / hz, n, (b - a) / hz / n * 1e6 }'
if [ -n "$trace" ] && [ -z "${STRACE:-}" ]; then
  kill -INT "$trace"; wait "$trace" 2>/dev/null || true
  trace=
  echo "syscalls per message (perf stat tracepoints; calls / $N):"
  awk -F, -v n="$N" '$1 ~ /^[0-9.]+$/ {
      name = $3; sub(/^raw_syscalls:sys_enter$/, "total", name); sub(/^syscalls:sys_enter_/, "", name)
      printf "  %-16s %7.2f\n", name, $1 / n }' "$work/perf"
elif [ -n "$trace" ]; then
  kill -INT "$trace"; wait "$trace" 2>/dev/null || true
  trace=
  echo "syscalls per message (strace -f -c; calls / $N):"
  awk -v n="$N" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
      name = $NF; calls = $4
      printf "  %-16s %7.2f\n", name, calls / n; total += calls }
    END { printf "  %-16s %7.2f\n", "total", total / n }' "$work/strace"
fi

#!/usr/bin/env bash
# bench/imap.sh — measure the IMAP server of the real "maillab up" (the MDA
# of bench/durable.yaml) over loopback, and a private Dovecot beside it when
# it is installed (apt-get install dovecot-imapd), under the same loads from
# bench/imapload, on the same messages.
#
#   bash bench/imap.sh              # default bounds
#   DUR=30 bash bench/imap.sh       # longer loads (seconds each)
#   NO_DOVECOT=1 bash bench/imap.sh # maillab only
#   IDLE_ONLY=1 bash bench/imap.sh  # only the idle stage (bob's messages only)
#
# Measurements, each bounded in count and in time (DUR seconds):
#   fetch    FETCH 1:1000 (BODY.PEEK[HEADER]) on bob's 1,000 messages
#   search   SEARCH FROM "carol" (no match: every header read) and
#            SEARCH UNSEEN on alice's 10,000 messages
#   mixed    10 and 50 clients, each logged in once, looping FETCH 20
#            envelopes, FETCH a whole message, SEARCH UNSEEN, STORE
#            +FLAGS/-FLAGS \Seen, NOOP: commands/s, any NO/BAD an error
#   login    10 clients looping connect, LOGIN, LOGOUT: logins/s
#   peak     the peak memory of the server over the 50-client mixed load
#            (maillab: VmHWM of a fresh process; Dovecot: the largest sum of
#            its processes' RSS and PSS sampled every 0.2 s)
#   idle     IDLE_N connections logged in, SELECTed and in IDLE: the
#            server's memory before and after, per open connection
# Each line is followed by the 1-minute load average when it was taken.
#
# The messages are delivered once over SMTP to the lab's MTA by
# bench/smtpload (durable in the Maildir before each 250), and the same
# Maildir files are copied to Dovecot before any IMAP session touched them.
# Everything lives in one temporary directory, every socket is on
# 127.0.0.1, and everything started here is stopped on exit whatever
# happens. The system Dovecot (/etc/dovecot, port 143) is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-15}
IDLE_N=${IDLE_N:-1000}
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d /tmp/maillab-imapbench.XXXXXX)
chmod 755 "$work" # Dovecot's unprivileged processes must reach its Maildir
pids=()
dovecot_conf=
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
  if [ -n "$dovecot_conf" ]; then
    local mpid
    mpid=$(cat "$work/dovecot/run/master.pid" 2>/dev/null)
    doveadm -c "$dovecot_conf" stop >/dev/null 2>&1 || { [ -n "$mpid" ] && kill "$mpid" 2>/dev/null; }
    for _ in $(seq 50); do
      [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/maillab" ./cmd/maillab
go build -o "$work/smtpload" ./bench/smtpload
go build -o "$work/imapload" ./bench/imapload

la() { cut -d' ' -f1 /proc/loadavg; }
# say LINE prints LINE with the load average.
say() { echo "$1  [load $(la)]"; }

results=$work/results
: >"$results"
record() { echo "$1 $2" >>"$results"; }
result() { awk -v k="$1" '$1 == k {v = $2} END {print v}' "$results"; }

# load KEY ADDR ARGS... runs imapload, prints its line (and its errors) and
# records its rate under KEY, its errors under KEY_errors and its p50 under
# KEY_p50.
load() {
  local key=$1 a=$2; shift 2
  local out rc=0
  out=$("$work/imapload" -addr "$a" -duration "${DUR}s" "$@" 2>"$work/err") || rc=$?
  say "$out"
  [ -s "$work/err" ] && sed 's/^/    /' "$work/err"
  record "$key" "$(sed -n 's/.* rate=\([0-9]*\) .*/\1/p' <<<"$out")"
  record "${key}_errors" "$(sed -n 's/.* errors=\([0-9]*\) .*/\1/p' <<<"$out")"
  record "${key}_p50" "$(sed -n 's/.* p50=\([^ ]*\) .*/\1/p' <<<"$out")"
  return 0
}

# --- maillab -------------------------------------------------------------------
state=$work/maillab-state
# up → PID, IMAP, SMTP, MAILDIR of a "maillab up" on bench/durable.yaml,
# keeping its Maildirs in $state from one start to the next.
up() {
  local out="$work/up-$RANDOM.json"
  "$work/maillab" up --json --no-color --dir "$state" bench/durable.yaml >"$out" 2>/dev/null &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 100); do
    [ -s "$out" ] && break
    sleep 0.1
  done
  read -r IMAP SMTP MAILDIR < <(python3 -c '
import json, sys
i = json.load(open(sys.argv[1]))
l = {}
for a in i["agents"]:
    l.update(a["listen"])
print(l["imap"], l["smtp"], i["maildir"])' "$out")
}
down() { kill -INT "$PID"; wait "$PID" || true; }
vm() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; } # vm PID VmRSS → KiB

count() { find "$1/new" "$1/cur" -maxdepth 1 -type f | wc -l; }

# idle_mem KEY ADDR MEMFN: opens IDLE_N idle connections; MEMFN prints
# "RSS_KiB PSS_KiB" of the server. Records KEY_rss_kib and KEY_pss_kib, the
# growth per open connection, and KEY_open.
idle_mem() {
  local key=$1 a=$2 memfn=$3
  "$work/imapload" -addr "$a" -mode cmd -c 1 -n 1 -cmd NOOP >/dev/null # warm: the mailbox is loaded
  sleep 1
  local before after
  before=$($memfn)
  "$work/imapload" -addr "$a" -mode idle -n "$IDLE_N" -c 20 -duration 120s >"$work/idle.out" 2>"$work/idle.err" &
  local ipid=$!
  for _ in $(seq 600); do
    grep -q '^idle stage=' "$work/idle.out" && break
    kill -0 "$ipid" 2>/dev/null || break
    sleep 0.2
  done
  sleep 1
  after=$($memfn)
  local line open
  line=$(grep '^idle stage=' "$work/idle.out" || echo "idle: no report")
  open=$(sed -n 's/.* open=\([0-9]*\) .*/\1/p' <<<"$line")
  say "$line"
  [ -s "$work/idle.err" ] && head -3 "$work/idle.err" | sed 's/^/    /'
  kill -TERM "$ipid" 2>/dev/null || true
  wait "$ipid" || true
  awk -v b="$before" -v a="$after" -v n="${open:-0}" -v k="$key" -v res="$results" 'BEGIN {
    split(b, B, " "); split(a, A, " ")
    if (n == 0) { print "memory per idle connection: n/a (none open)"; exit }
    printf "server memory before %.1f MB RSS / %.1f MB PSS, with %d idle connections %.1f MB RSS / %.1f MB PSS: %.1f KiB RSS, %.1f KiB PSS per connection\n",
      B[1]/1024, B[2]/1024, n, A[1]/1024, A[2]/1024, (A[1]-B[1])/n, (A[2]-B[2])/n
    printf "%s_rss_kib %.1f\n%s_pss_kib %.1f\n%s_open %d\n", k, (A[1]-B[1])/n, k, (A[2]-B[2])/n, k, n >> res }'
}
maillab_mem() {
  local r s
  r=$(awk '/^Rss:/ {print $2}' "/proc/$PID/smaps_rollup")
  s=$(awk '/^Pss:/ {print $2}' "/proc/$PID/smaps_rollup")
  echo "$r $s"
}

echo "== maillab up bench/durable.yaml: IMAP from the MDA's Maildir store ($(nproc) cores)"
up
say "seeding over SMTP to the lab's MTA ($SMTP): 1,000 messages for bob, 10,000 for alice"
say "  $("$work/smtpload" -addr "$SMTP" -n 1000 -c 10 -per-conn 100 -to bob@example.test -max-time 120s)"
[ -n "${IDLE_ONLY:-}" ] || say "  $("$work/smtpload" -addr "$SMTP" -n 10000 -c 10 -per-conn 100 -to alice@example.test -max-time 300s)"
bob=$MAILDIR/example.test/bob alice=$MAILDIR/example.test/alice
echo "Maildirs: bob $(count "$bob"), alice $(count "$alice") messages"
# Dovecot gets the very same files, before an IMAP session moved them to cur/.
mkdir -p "$work/dovecot/mail"
cp -a "$MAILDIR/example.test" "$work/dovecot/mail/"

if [ -z "${IDLE_ONLY:-}" ]; then
echo "-- FETCH of 1,000 message headers, SEARCH over 10,000 messages (one client, repeated)"
load maillab_fetch "$IMAP" -mode cmd -c 1 -n 200 -cmd 'FETCH 1:1000 (BODY.PEEK[HEADER])'
load maillab_search_from "$IMAP" -mode cmd -c 1 -n 200 -user alice@example.test -pass alice -cmd 'SEARCH FROM "carol"'
load maillab_search_unseen "$IMAP" -mode cmd -c 1 -n 1000 -user alice@example.test -pass alice -cmd 'SEARCH UNSEEN'
echo "-- mixed load, 10 clients; logins"
load maillab_mixed10 "$IMAP" -mode mixed -c 10
load maillab_login "$IMAP" -mode login -c 10 -n 100000
down

echo "-- mixed load, 50 clients (a fresh process: its VmHWM is the peak of this load)"
up
load maillab_mixed50 "$IMAP" -mode mixed -c 50
hwm=$(vm "$PID" VmHWM)
say "maillab peak RSS (VmHWM) at 50 clients: $(awk -v k="$hwm" 'BEGIN {printf "%.1f MB", k/1024}')"
record maillab_peak50_mb "$(awk -v k="$hwm" 'BEGIN {printf "%.1f", k/1024}')"
down
else
down
fi

echo "-- $IDLE_N idle connections (LOGIN, SELECT INBOX, IDLE), a fresh process"
up
idle_mem maillab_idle "$IMAP" maillab_mem
down

# --- Dovecot -------------------------------------------------------------------------
if [ -n "${NO_DOVECOT:-}" ] || ! command -v dovecot >/dev/null; then
  echo "== Dovecot not installed (apt-get install dovecot-imapd) or NO_DOVECOT set: no reference in this run"
else
  free_port() {
    local p=$1
    while [ -n "$(ss -Hltn "sport = :$p")" ]; do p=$((p + 1)); done
    echo "$p"
  }
  dport=$(free_port "${DOVECOT_PORT:-10143}")
  d=$work/dovecot
  mkdir -p "$d/run" "$d/state"
  chown -R nobody:nogroup "$d/mail"
  printf 'bob@example.test:{PLAIN}bob\nalice@example.test:{PLAIN}alice\n' >"$d/users"
  chmod 644 "$d/users"
  dovecot_conf=$d/dovecot.conf
  cat >"$dovecot_conf" <<EOF
# Private benchmark instance, written by bench/imap.sh. Debian's defaults
# but for where things live and the limits 50 clients and $IDLE_N idle
# connections from one user and one address need.
base_dir = $d/run
state_dir = $d/state
instance_name = maillab-imapbench
log_path = $d/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:$d/mail/%d/%n
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = $d/users
}
userdb {
  driver = static
  args = uid=$(id -u nobody) gid=$(getent group nogroup | cut -d: -f3) home=$d/mail/%d/%n
}
default_process_limit = $((IDLE_N + 200))
default_client_limit = $((2 * IDLE_N + 400))
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $dport
  }
  inet_listener imaps {
    port = 0
  }
}
service imap {
  process_limit = $((IDLE_N + 200))
}
service anvil {
  client_limit = $((3 * (IDLE_N + 200) + 10))
}
protocol imap {
  mail_max_userip_connections = $((IDLE_N + 200))
}
EOF
  dovecot -c "$dovecot_conf"
  for _ in $(seq 50); do
    [ -n "$(ss -Hltn "sport = :$dport")" ] && break
    sleep 0.1
  done
  DADDR=127.0.0.1:$dport
  dmaster() { cat "$d/run/master.pid"; }
  # dovecot_mem → "RSS_KiB PSS_KiB NPROCS" summed over the master and its children.
  dovecot_mem() {
    local m p r=0 s=0 n=0 x y
    m=$(dmaster)
    for p in "$m" $(pgrep -P "$m"); do
      x=$(awk '/^Rss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
      y=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
      r=$((r + ${x:-0})) s=$((s + ${y:-0})) n=$((n + 1))
    done
    echo "$r $s $n"
  }
  echo "== reference: Dovecot $(dovecot --version | cut -d' ' -f1), private instance on $DADDR (process per login: imap-login, then imap per session)"
  if [ -z "${IDLE_ONLY:-}" ]; then
  echo "-- FETCH of 1,000 message headers, SEARCH over 10,000 messages (one client, repeated)"
  load dovecot_fetch "$DADDR" -mode cmd -c 1 -n 200 -cmd 'FETCH 1:1000 (BODY.PEEK[HEADER])'
  load dovecot_search_from "$DADDR" -mode cmd -c 1 -n 200 -user alice@example.test -pass alice -cmd 'SEARCH FROM "carol"'
  load dovecot_search_unseen "$DADDR" -mode cmd -c 1 -n 1000 -user alice@example.test -pass alice -cmd 'SEARCH UNSEEN'
  echo "-- mixed load, 10 clients; logins"
  load dovecot_mixed10 "$DADDR" -mode mixed -c 10
  load dovecot_login "$DADDR" -mode login -c 10 -n 100000
  echo "-- mixed load, 50 clients (memory sampled every 0.2 s)"
  (
    mr=0 mp=0 mn=0
    while :; do
      read -r r p n < <(dovecot_mem)
      [ "$r" -gt "$mr" ] && mr=$r
      [ "$p" -gt "$mp" ] && mp=$p
      [ "$n" -gt "$mn" ] && mn=$n
      echo "$mr $mp $mn" >"$d/peak"
      sleep 0.2
    done
  ) &
  sampler=$!
  load dovecot_mixed50 "$DADDR" -mode mixed -c 50
  kill "$sampler"; wait "$sampler" 2>/dev/null || true
  read -r mr mp mn <"$d/peak"
  say "Dovecot peak at 50 clients: RSS sum $(awk -v k="$mr" 'BEGIN {printf "%.1f", k/1024}') MB, PSS sum $(awk -v k="$mp" 'BEGIN {printf "%.1f", k/1024}') MB, up to $mn processes"
  record dovecot_peak50_rss_mb "$(awk -v k="$mr" 'BEGIN {printf "%.1f", k/1024}')"
  record dovecot_peak50_pss_mb "$(awk -v k="$mp" 'BEGIN {printf "%.1f", k/1024}')"
  fi
  echo "-- $IDLE_N idle connections (LOGIN, SELECT INBOX, IDLE)"
  idle_mem dovecot_idle "$DADDR" dovecot_mem
  errs=$(grep -ciE 'error|fatal|panic' "$d/dovecot.log" || true)
  echo "Dovecot's log: $errs lines with error/fatal/panic$([ "$errs" -gt 0 ] && echo ", the first:" || true)"
  grep -iE 'error|fatal|panic' "$d/dovecot.log" | head -3 | sed 's/^/    /' || true
fi

# --- Summary ---------------------------------------------------------------------------
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}
verdict() { # verdict VALUE OP TARGET
  awk -v r="$1" -v t="$3" -v op="$2" 'BEGIN {
    if (r == "n/a" || r == "") exit
    ok = (op == ">=") ? (r + 0 >= t + 0) : (op == "<=") ? (r + 0 <= t + 0) : (r + 0 < t + 0)
    print (ok ? "ok" : "MISSED") }'
}
echo "== summary (DUR=${DUR}s per load, IDLE_N=$IDLE_N; targets from issue 3; load average now $(la))"
if [ -z "${IDLE_ONLY:-}" ]; then
for k in fetch search_from search_unseen; do
  m=$(result "maillab_$k") v=$(result "dovecot_$k")
  echo "$k: maillab ${m:-?}/s (p50 $(result "maillab_${k}_p50")) / Dovecot ${v:-?}/s (p50 $(result "dovecot_${k}_p50")) = $(ratio "$m" "$v")"
done
for c in 10 50; do
  m=$(result "maillab_mixed$c") v=$(result "dovecot_mixed$c") e=$(result "maillab_mixed${c}_errors")
  r=$(ratio "$m" "$v")
  echo "mixed, $c clients: maillab ${m:-?} cmd/s (errors ${e:-?}) / Dovecot ${v:-?} cmd/s (errors $(result "dovecot_mixed${c}_errors")) = $r (target >= 1.00, 0 errors) $(verdict "$r" '>=' 1)$([ "${e:-1}" = 0 ] || echo ' ERRORS')"
done
m=$(result maillab_login) v=$(result dovecot_login)
r=$(ratio "$m" "$v")
echo "logins: maillab ${m:-?}/s / Dovecot ${v:-?}/s = $r (target >= 3.00) $(verdict "$r" '>=' 3)"
m=$(result maillab_peak50_mb) v=$(result dovecot_peak50_pss_mb)
r=$(ratio "$m" "$v")
echo "peak memory at 50 clients: maillab ${m:-?} MB (VmHWM) / Dovecot ${v:-?} MB (PSS sum; RSS sum $(result dovecot_peak50_rss_mb) MB) = $r (target <= 1.00) $(verdict "$r" '<=' 1)"
fi
m=$(result maillab_idle_rss_kib) o=$(result maillab_idle_open)
echo "per idle connection: maillab ${m:-?} KiB RSS over ${o:-?} open of $IDLE_N (target < 32) $(verdict "$m" '<' 32); Dovecot $(result dovecot_idle_pss_kib) KiB PSS ($(result dovecot_idle_rss_kib) KiB RSS) over $(result dovecot_idle_open) open"

#!/usr/bin/env bash
# bench/postfix.sh — the reference for bench/run.sh: a private Postfix
# instance (Debian's package, apt-get install postfix) under the same load as
# maillab, and Postfix's smtp-sink under the sink load.
#
#   bash bench/postfix.sh                      # standalone, builds smtpload
#   N=5000 SMTPLOAD=/path/smtpload RESULTS=/path/file bash bench/postfix.sh
#
# The instance lives entirely in a temporary directory (its own
# config_directory, queue_directory, data_directory and Maildir), listens
# only on 127.0.0.1:PORT, and is stopped and removed on exit whatever
# happens. It never touches /etc/postfix or the system instance.
#
# What is measured. Postfix answers 250 to DATA once the message is fsynced
# into its queue; virtual(8) delivers it to the Maildir afterwards. So for
# each load two figures are printed:
#   accepted   the smtpload line (rate of 250 replies), and
#   delivered  N divided by the time from the start of the load until the
#              last message was renamed into Maildir/new (taken from the
#              files' ctime, so the Maildir is not polled at a high rate).
#
# If RESULTS names a file, "key value" lines are appended to it for the
# summary of bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000}
RESULTS=${RESULTS:-/dev/null}

postfix_bin=$(command -v postfix || echo /usr/sbin/postfix)
sink_bin=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
if [ ! -x "$postfix_bin" ] || [ ! -x "$sink_bin" ]; then
  echo "== Postfix not installed (apt-get install postfix): no reference in this run"
  exit 0
fi

dir=$(mktemp -d /tmp/maillab-postfix.XXXXXX)
started=
sink_pid=
cleanup() {
  if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null || true; fi
  if [ -n "$started" ]; then
    "$postfix_bin" -c "$dir/conf" stop >/dev/null 2>&1 || true
    # Wait for the master (and so its children) to be gone before removing
    # the directory they work in.
    local mpid
    mpid=$({ tr -d ' ' <"$dir/queue/pid/master.pid"; } 2>/dev/null || true)
    for _ in $(seq 50); do
      [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

# The load generator: the caller's, or our own build.
if [ -z "${SMTPLOAD:-}" ]; then
  SMTPLOAD=$dir/smtpload
  go build -o "$SMTPLOAD" ./bench/smtpload
fi

# free_port FROM → the first port >= FROM nobody listens on (TCP, any address).
free_port() {
  local p=$1
  while [ -n "$(ss -Hltn "sport = :$p")" ]; do p=$((p + 1)); done
  echo "$p"
}
port=$(free_port "${PORT:-2725}")

# --- The private instance ----------------------------------------------------
# Postfix's daemons run as the postfix user and deliver as nobody, so the
# directories they must reach are world-traversable (mktemp makes 0700).
chmod 755 "$dir"
mkdir -p "$dir/conf" "$dir/queue" "$dir/data" "$dir/mail"
chown postfix: "$dir/data"
chown nobody:nogroup "$dir/mail"
maildir=$dir/mail/example.test/bob

# Only bob@example.test exists; the trailing slash selects Maildir format.
echo "bob@example.test example.test/bob/" >"$dir/conf/vmailbox"

cat >"$dir/conf/main.cf" <<EOF
# Private benchmark instance, written by bench/postfix.sh.
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $dir/maillog
maillog_file_prefixes = $dir

myhostname = postfix.bench.test
mydomain = bench.test
myorigin = \$myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no

# Accept mail for example.test and deliver it to a Maildir with virtual(8).
virtual_mailbox_domains = example.test
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = texthash:$dir/conf/vmailbox
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)

# A fair comparison, not a crippled one: no DNS anywhere (no peer name
# lookup, no MX lookups; smtp_dns_support_level supersedes the deprecated
# disable_dns_lookups), no per-client rate or connection limits (all the
# load comes from 127.0.0.1), and enough processes for 50 sessions.
smtpd_peername_lookup = no
smtp_host_lookup = native
smtp_dns_support_level = disabled
smtpd_client_connection_rate_limit = 0
smtpd_client_connection_count_limit = 0
smtpd_client_message_rate_limit = 0
default_process_limit = 150
EOF
# Extra main.cf settings to try (e.g. POSTFIX_EXTRA='in_flow_delay = 0').
if [ -n "${POSTFIX_EXTRA:-}" ]; then
  printf '# From POSTFIX_EXTRA:\n%s\n' "$POSTFIX_EXTRA" >>"$dir/conf/main.cf"
fi

# master.cf: the stock services, without chroot (nothing to copy into the
# queue directory) and with smtpd on 127.0.0.1:PORT only.
cat >"$dir/conf/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
127.0.0.1:$port inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF

# "postfix start" creates the queue directories with the right owners.
started=1
if ! "$postfix_bin" -c "$dir/conf" start >"$dir/start.log" 2>&1; then
  # Postfix reports early fatal errors on a terminal only (else to syslog):
  # check again under script(1) to show them.
  echo "== Postfix failed to start:"
  script -qec "$postfix_bin -c $dir/conf check" /dev/null || true
  cat "$dir/start.log" "$dir/maillog" 2>/dev/null || true
  exit 1
fi
for _ in $(seq 50); do
  [ -n "$(ss -Hltn "sport = :$port")" ] && break
  sleep 0.1
done

# --- Measurements --------------------------------------------------------------
rate_of() { sed -n 's/.* rate=\([0-9]*\) msg\/s.*/\1/p' <<<"$1"; }
sent_of() { sed -n 's/.* sent=\([0-9]*\) .*/\1/p' <<<"$1"; }

# last_arrival DIR → the newest ctime (seconds, fractional) in DIR; the
# ctime of a Maildir file is set by its rename from tmp/ into new/.
last_arrival() {
  python3 -c 'import os,sys; print(max((e.stat().st_ctime_ns for e in os.scandir(sys.argv[1])), default=0)/1e9)' "$1"
}
count_new() { find "$maildir/new" -maxdepth 1 -type f 2>/dev/null | wc -l; }

# measure KEY ARGS... runs smtpload against the instance, then waits (120 s
# at most) for every accepted message to reach the Maildir.
measure() {
  local key=$1; shift
  # Start from an empty Maildir and an empty queue.
  find "$maildir/new" -maxdepth 1 -type f -delete 2>/dev/null || true
  local t0 out
  t0=$(date +%s.%N)
  out=$("$SMTPLOAD" -addr "127.0.0.1:$port" -n "$N" -max-time 60s "$@" 2>&1) || true
  echo "accepted:  $out"
  local sent; sent=$(sent_of "$out"); sent=${sent:-0}
  echo "${key}_accepted $(rate_of "$out")" >>"$RESULTS"
  local got=0
  for _ in $(seq 1200); do
    got=$(count_new)
    [ "$got" -ge "$sent" ] && break
    sleep 0.1
  done
  if [ "$sent" -gt 0 ] && [ "$got" -ge "$sent" ]; then
    local last
    last=$(last_arrival "$maildir/new")
    awk -v n="$got" -v a="$t0" -v b="$last" -v k="$key" -v res="$RESULTS" 'BEGIN {
      printf "delivered: %d in Maildir %.2f s after the load started: %.0f msg/s\n", n, b - a, n / (b - a)
      printf "%s_delivered %.0f\n", k, n / (b - a) >> res }'
  else
    echo "delivered: only $got of $sent in Maildir after 120 s"
    tail -5 "$dir/maillog" 2>/dev/null || true
  fi
}

# postfix_mem → process count, and the sum of RSS and of PSS (shared pages
# divided among the processes that share them) over the whole instance.
postfix_mem() {
  local mpid; mpid=$(tr -d ' ' <"$dir/queue/pid/master.pid")
  local p rss=0 pss=0 n=0 r s
  for p in "$mpid" $(pgrep -P "$mpid"); do
    r=$(awk '/^Rss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    s=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    rss=$((rss + ${r:-0})); pss=$((pss + ${s:-0})); n=$((n + 1))
  done
  awk -v n="$n" -v r="$rss" -v s="$pss" 'BEGIN { printf "%d processes, RSS sum %.1f MB, PSS sum %.1f MB\n", n, r/1024, s/1024 }'
}

version=$(postconf -c "$dir/conf" -h mail_version 2>/dev/null || echo '?')
echo "== reference: Postfix $version, private instance on 127.0.0.1:$port (250 once fsynced in its queue; virtual(8) -> Maildir after)"
measure postfix_c10_pc1 -c 10 -per-conn 1
measure postfix_c10_pc10 -c 10 -per-conn 10
measure postfix_c50_pc10 -c 50 -per-conn 10
echo "Postfix memory just after 50 sessions: $(postfix_mem)"

# --- smtp-sink ------------------------------------------------------------------
# Postfix's test server: speaks SMTP, stores nothing. As root it must be told
# which user to become (-u); 1000 is the listen backlog.
sport=$(free_port $((port + 1)))
echo "== reference: Postfix smtp-sink on 127.0.0.1:$sport, same load as maillab sink"
"$sink_bin" -u postfix "127.0.0.1:$sport" 1000 >/dev/null 2>&1 &
sink_pid=$!
for _ in $(seq 50); do
  [ -n "$(ss -Hltn "sport = :$sport")" ] && break
  sleep 0.1
done
out=$("$SMTPLOAD" -addr "127.0.0.1:$sport" -n "$N" -max-time 60s -c 10 -per-conn 1 2>&1) || true
echo "$out"
echo "smtp_sink_c10_pc1 $(rate_of "$out")" >>"$RESULTS"

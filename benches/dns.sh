#!/usr/bin/env bash
# Cluster DNS throughput and latency with dnsperf, on loopback only: `podgate up` pinned to one
# core (SERVER_CPUS) serves a headless service of a 3-replica StatefulSet; dnsperf, pinned to
# another core (CLIENT_CPUS), sends in-zone questions (A of an ordinal, A and SRV of the
# service, an NXDOMAIN) over UDP. Two runs: one saturating (queries per second on one core),
# then one at half that rate with every query's latency recorded (p50, p99, p99.9 from
# `dnsperf -v`). Prints a markdown report on stdout; progress on stderr.
#
# One command from a fresh clone (root, for port 53 and apt-get):  benches/dns.sh
# Knobs: DURATION=10 (seconds per run), CLIENTS=4 (dnsperf -c), OUTSTANDING=100 (dnsperf -q),
# SERVER_CPUS=1, CLIENT_CPUS=0, PODGATE_BIN (skip the build), DNS_ADDR=127.0.0.54 (any free
# 127/8 address). The latest numbers are in benches/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-4}
OUTSTANDING=${OUTSTANDING:-100}
SERVER_CPUS=${SERVER_CPUS:-1}
CLIENT_CPUS=${CLIENT_CPUS:-0}
DNS_ADDR=${DNS_ADDR:-127.0.0.54}

command -v dnsperf >/dev/null 2>&1 || { apt-get update >&2 && apt-get install -y dnsperf >&2; }
if [ -z "${PODGATE_BIN:-}" ]; then
  cargo build --release >&2
  PODGATE_BIN=target/release/podgate
fi

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/app.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: nginx}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: web, port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: nginx
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: main, image: busybox, command: [sleep, "3600"]}]
EOF
taskset -c "$SERVER_CPUS" "$PODGATE_BIN" up --listen 127.0.0.1:0 --state-dir "$work/state" \
  --cluster-dns "$DNS_ADDR:53" -f "$work/app.yaml" > "$work/out" 2> "$work/log" &
pid=$!
for _ in $(seq 1 600); do
  [ "$(dig @"$DNS_ADDR" +short web-2.nginx.default.svc.cluster.local 2>/dev/null)" != "" ] && break
  sleep 0.1
done

cat > "$work/queries" <<'EOF'
web-0.nginx.default.svc.cluster.local A
web-1.nginx.default.svc.cluster.local A
nginx.default.svc.cluster.local A
nginx.default.svc.cluster.local SRV
_web._tcp.nginx.default.svc.cluster.local SRV
missing.default.svc.cluster.local A
EOF
# podgate's CPU time (user + system, in clock ticks): queries per CPU-second is what one core
# would do, even when other work shares the machine.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
echo "running dnsperf for ${DURATION}s (saturating)" >&2
ticks0=$(cpu_ticks)
taskset -c "$CLIENT_CPUS" dnsperf -s "$DNS_ADDR" -d "$work/queries" -l "$DURATION" \
  -c "$CLIENTS" -q "$OUTSTANDING" -S 1 > "$work/perf" 2>&1 || true
ticks1=$(cpu_ticks)
completed=$(awk '/Queries completed/ {print $3}' "$work/perf")
cpu_s=$(awk -v t="$((ticks1 - ticks0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}')
per_cpu=$(awk -v q="$completed" -v s="$cpu_s" 'BEGIN {printf "%d", (s > 0 ? q / s : 0)}')
qps=$(awk '/Queries per second/ {printf "%d", $4}' "$work/perf")
rate=$(( qps / 2 > 0 ? qps / 2 : 1000 ))
echo "running dnsperf for ${DURATION}s at ${rate} queries/s, recording latencies" >&2
taskset -c "$CLIENT_CPUS" dnsperf -s "$DNS_ADDR" -d "$work/queries" -l "$DURATION" \
  -c "$CLIENTS" -q "$OUTSTANDING" -Q "$rate" -v > "$work/lat" 2>&1 || true
# Verbose lines of answered queries: "> NOERROR <name> <type> <seconds>".
awk '$1 == ">" && $2 != "T" && $NF ~ /^[0-9.]+$/ {print $NF * 1000}' "$work/lat" | sort -g > "$work/ms"
n=$(wc -l < "$work/ms")
pct() { [ "$n" -gt 0 ] && sed -n "$(( (n * $1 + 999) / 1000 ))p" "$work/ms" || echo "-"; }

echo "## Cluster DNS (dnsperf, UDP, podgate on CPU $SERVER_CPUS)"
echo
echo '```'
grep -E "Queries sent|Queries completed|Queries lost|Response codes|Queries per second|Average Latency|Latency StdDev" "$work/perf"
echo '```'
echo
echo "podgate used ${cpu_s} CPU-seconds for ${completed} answers: ${per_cpu} queries per CPU-second"
echo "(load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "At ${rate} queries/s (half the saturating rate), ${n} answers: p50 $(pct 500) ms, p99 $(pct 990) ms, p99.9 $(pct 999) ms"

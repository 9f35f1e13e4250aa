#!/usr/bin/env bash
# The load benchmark of issue 8, side by side in one run, on loopback only:
#
#   (a) wrk → nginx                               direct to the upstream (the limit)
#   (b) wrk → podgate proxy → nginx               pass-through, nginx standing in for the API server
#   (c) wrk → kubectl proxy → nginx               the same, through kubectl (a kubeconfig whose
#                                                 server is the upstream)
#   (d) wrk → podgate up → pods/<name>/proxy/ → nginx    the pod data path
#   (e) wrk → nginx reverse proxy (keep-alive upstream) → nginx    the industry's yardstick
#
# then podgate's RSS (idle, 2,000 open connections, streaming 1 GiB) and the control plane:
# API create/patch latency under load, 100 StatefulSets × 10 replicas until Ready, OrderedReady
# step time (those two need the StatefulSet controller and the node agent; the script says
# which is missing). Prints one markdown report on stdout; progress goes to stderr.
#
# One command from a fresh clone:  benches/load.sh  (root, or sudo for apt-get)
#
# Knobs (environment): DURATION=10 (seconds per measured run), WARMUP=2, RUNS=3 (the median
# run by req/s is reported), CONNS=32, THREADS=1 (wrk), WORKERS=1 (worker threads/processes of
# every proxy), CLIENT_CPUS=0 (wrk's cores), SERVER_CPUS=1 (upstream + proxy cores),
# BASE_PORT=18080, PODGATE_BIN (skip the build), SKIP_CONTROL_PLANE=1, PROFILE=perf (record
# podgate during row (d) and print its hottest functions), KEEP=1 (keep the work dir),
# UPSTREAM_MODE=auto|script (auto: the upstream is a pod podgate's node agent runs, when there is
# one; script: nginx started by this script, with a Pod object bound to no node pointing at it).
#
# Method (reference/rust-anchors.md §4): release build; wrk alone on CLIENT_CPUS, everything that
# serves on SERVER_CPUS, so every row costs server-side CPU only and the ratios compare
# per-request cost; the same number of workers for every proxy; warm-up discarded; bounded
# durations. wrk is closed-loop: latency under saturation is under-reported (coordinated
# omission) — compare rows with each other, not with an open-loop SLO.
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
RUNS=${RUNS:-3}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-1}
CLIENT_CPUS=${CLIENT_CPUS:-0}
SERVER_CPUS=${SERVER_CPUS:-1}
BASE_PORT=${BASE_PORT:-18080}
PROFILE=${PROFILE:-}
UPSTREAM_MODE=${UPSTREAM_MODE:-auto}
SKIP_CONTROL_PLANE=${SKIP_CONTROL_PLANE:-}

UPSTREAM_PORT=$BASE_PORT
UP_PORT=$((BASE_PORT + 1))
KUBECTL_PORT=$((BASE_PORT + 2))
NGINX_RP_PORT=$((BASE_PORT + 3))
PG_PROXY_PORT=$((BASE_PORT + 4))
FAKE_POD_IP=127.1.0.9 # pod IPs are 127.0.0.0/8 but never 127.0.0.1
API_PATH=/api/v1/namespaces/default/configmaps
POD=bench-upstream
BODY_BYTES=1024

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/podgate-load.XXXXXX)
chmod 755 "$WORK" # nginx workers may run as another user
PIDS=()

log() { printf '[load %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

cleanup() {
	local pid
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[i]}
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	done
	stop_pod_processes
	if [[ -n ${KEEP:-} ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Processes the node agent started for this run's state dir (it marks them with
# PODGATE_NODE_DIR=<state>/node); none when there is no node agent.
stop_pod_processes() {
	local mark="PODGATE_NODE_DIR=$WORK/state/node" p
	for p in /proc/[0-9]*; do
		if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qxF "$mark"; then
			kill -KILL "${p#/proc/}" 2>/dev/null || true
		fi
	done
}

# Command prefixes that pin to the client's or the servers' cores (empty without taskset).
# Servers start as `"${SERVER_PIN[@]}" cmd &`, never through a shell function, so `$!` is the
# server's own PID (taskset execs it) and cleanup can stop it.
CLIENT_PIN=()
SERVER_PIN=()
set_pins() {
	if command -v taskset >/dev/null; then
		CLIENT_PIN=(taskset -c "$CLIENT_CPUS")
		SERVER_PIN=(taskset -c "$SERVER_CPUS")
	fi
}

# === tools ===

install_tools() {
	local missing=()
	command -v wrk >/dev/null || missing+=(wrk)
	command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
	command -v curl >/dev/null || missing+=(curl)
	command -v taskset >/dev/null || missing+=(util-linux)
	((${#missing[@]} == 0)) && return
	log "installing ${missing[*]} from Debian's packages"
	local sudo=""
	[[ $(id -u) -ne 0 ]] && sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
}

NGINX=
build_podgate() {
	if [[ -n ${PODGATE_BIN:-} ]]; then
		PODGATE=$PODGATE_BIN
	else
		command -v cargo >/dev/null || die "cargo is needed to build podgate (or set PODGATE_BIN)"
		log "building podgate (release)"
		(cd "$ROOT" && cargo build --release --bin podgate >&2)
		PODGATE=${CARGO_TARGET_DIR:-$ROOT/target}/release/podgate
	fi
	[[ -x $PODGATE ]] || die "no podgate binary at $PODGATE"
}

wait_http() { # wait_http URL [AUTH] — until it answers anything below 500, for 30 s
	local url=$1 auth=${2:-} code
	for _ in $(seq 300); do
		code=$(curl -s -o /dev/null -w '%{http_code}' ${auth:+-H "Authorization: Bearer $auth"} "$url" || true)
		[[ $code =~ ^[1-4][0-9][0-9]$ ]] && return 0
		sleep 0.1
	done
	return 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# cpu_pct PID SECONDS — the process's CPU use (user + system, all threads) over SECONDS, in %.
cpu_pct() {
	local a b ticks
	ticks=$(getconf CLK_TCK)
	a=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
	sleep "$2"
	b=$(awk '{ print $14 + $15 }' "/proc/$1/stat")
	awk -v a="$a" -v b="$b" -v t="$ticks" -v s="$2" 'BEGIN { printf "%.0f", (b - a) / t / s * 100 }'
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# === servers ===

# The upstream's content: 1 KiB for any path, /big.bin (1 GiB, sparse) for streaming.
make_content() {
	mkdir -p "$WORK/www"
	head -c "$BODY_BYTES" /dev/zero | tr '\0' 'x' >"$WORK/www/1k.txt"
	truncate -s 1G "$WORK/www/big.bin"
	chmod -R a+rX "$WORK/www"
}

# nginx_conf NAME LISTEN BODY [HTTP] — a config whose server block is BODY, with HTTP added to
# the http block.
nginx_conf() {
	local name=$1 listen=$2 body=$3 http=${4:-}
	mkdir -p "$WORK/$name"
	cat >"$WORK/$name/nginx.conf" <<EOF
user $(id -un) $(id -gn);
worker_processes $WORKERS;
worker_rlimit_nofile 65536;
pid $WORK/$name/nginx.pid;
error_log $WORK/$name/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path $WORK/$name/body;
    proxy_temp_path $WORK/$name/proxy;
    fastcgi_temp_path $WORK/$name/fastcgi;
    uwsgi_temp_path $WORK/$name/uwsgi;
    scgi_temp_path $WORK/$name/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    default_type text/plain;
$http
    server {
        listen $listen backlog=4096;
$body
    }
}
EOF
}

upstream_body() {
	cat <<EOF
        root $WORK/www;
        location / { try_files /1k.txt =404; }
        location = /big.bin { }
EOF
}

start_nginx() { # start_nginx NAME — in the foreground of a pinned background job
	"${SERVER_PIN[@]}" "$NGINX" -p "$WORK/$1" -e "$WORK/$1/error.log" -c "$WORK/$1/nginx.conf" \
		-g 'daemon off;' &
	PIDS+=($!)
}

start_podgate_up() {
	log "starting podgate up on 127.0.0.1:$UP_PORT"
	TOKIO_WORKER_THREADS=$WORKERS RUST_LOG=${RUST_LOG:-warn} "${SERVER_PIN[@]}" "$PODGATE" up \
		--listen "127.0.0.1:$UP_PORT" --state-dir "$WORK/state" >"$WORK/up.log" 2>&1 &
	UP_PID=$!
	PIDS+=("$UP_PID")
	wait_http "http://127.0.0.1:$UP_PORT/readyz" || die "podgate up did not get ready: $(tail -5 "$WORK/up.log")"
	for _ in $(seq 100); do [[ -s $WORK/state/token ]] && break; sleep 0.1; done
	TOKEN=$(cat "$WORK/state/token")
	KUBECONFIG_UP=$WORK/state/kubeconfig
}

kup() { kubectl --kubeconfig "$KUBECONFIG_UP" "$@"; }

# (kubectl create namespace sends protobuf, which podgate does not read.)
make_namespace() {
	for _ in 1 2 3; do
		printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n' "$1" | kup apply -f - >&2 && return 0
		sleep 1
	done
	return 1
}

# Whether `podgate up` runs a node agent: it registers a Node.
has_node_agent() {
	for _ in $(seq 30); do
		[[ -n $(kup get nodes -o name 2>/dev/null) ]] && return 0
		sleep 0.2
	done
	return 1
}

# The upstream every row measures. With a node agent it is a real pod running nginx (and its
# address is the pod's); without one, nginx started here on $FAKE_POD_IP, and a Pod object whose
# status says it runs there.
setup_upstream() {
	make_content
	if [[ $UPSTREAM_MODE == auto ]] && has_node_agent; then
		POD_MODE="a pod running nginx, started by podgate's node agent"
		nginx_conf pod "@POD_IP@:$UPSTREAM_PORT" "$(upstream_body)"
		mv "$WORK/pod/nginx.conf" "$WORK/pod/nginx.conf.in"
		cat >"$WORK/pod.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $POD, namespace: default, labels: {app: $POD}}
spec:
  containers:
  - name: nginx
    image: nginx
    command: ["sh", "-c", "sed \"s/@POD_IP@/\$POD_IP/\" $WORK/pod/nginx.conf.in > $WORK/pod/nginx.conf && exec $NGINX -p $WORK/pod -e $WORK/pod/error.log -c $WORK/pod/nginx.conf -g 'daemon off;'"]
    env: [{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
    ports: [{name: http, containerPort: $UPSTREAM_PORT}]
    readinessProbe: {httpGet: {path: /, port: $UPSTREAM_PORT}, periodSeconds: 1}
EOF
		kup apply -f "$WORK/pod.yaml" >&2
		kup wait --for=condition=Ready "pod/$POD" --timeout=60s >&2 || die "the nginx pod did not get Ready"
		UPSTREAM_IP=$(kup get pod "$POD" -o jsonpath='{.status.podIP}')
	else
		if [[ $UPSTREAM_MODE == auto ]]; then
			POD_MODE="nginx started by the script; the Pod's status set by hand (no node agent in this build)"
		else
			POD_MODE="nginx started by the script; the Pod's status set by hand (UPSTREAM_MODE=$UPSTREAM_MODE)"
		fi
		UPSTREAM_IP=$FAKE_POD_IP
		nginx_conf upstream "$UPSTREAM_IP:$UPSTREAM_PORT" "$(upstream_body)"
		start_nginx upstream
		cat >"$WORK/pod.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $POD, namespace: default, labels: {app: $POD}}
spec:
  nodeName: bench-elsewhere # no node agent runs it
  containers:
  - name: nginx
    image: nginx
    command: ["nginx"]
    ports: [{name: http, containerPort: $UPSTREAM_PORT}]
EOF
		kup apply -f "$WORK/pod.yaml" >&2
		kup patch pod "$POD" --subresource=status --type=merge -p \
			"{\"status\":{\"phase\":\"Running\",\"podIP\":\"$UPSTREAM_IP\",\"podIPs\":[{\"ip\":\"$UPSTREAM_IP\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}" >&2
	fi
	UPSTREAM=http://$UPSTREAM_IP:$UPSTREAM_PORT
	wait_http "$UPSTREAM/" || die "the upstream nginx does not answer at $UPSTREAM"
	POD_PATH=/api/v1/namespaces/default/pods/$POD:$UPSTREAM_PORT/proxy
	log "upstream: $UPSTREAM ($POD_MODE)"
}

# A kubeconfig whose server is the upstream, for kubectl proxy and podgate proxy.
write_upstream_kubeconfig() {
	KUBECONFIG_UPSTREAM=$WORK/upstream.kubeconfig
	cat >"$KUBECONFIG_UPSTREAM" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: upstream
  cluster: {server: "$UPSTREAM"}
contexts:
- name: upstream
  context: {cluster: upstream, user: bench}
current-context: upstream
users:
- name: bench
  user: {}
EOF
}

start_kubectl_proxy() {
	command -v kubectl >/dev/null || return 1
	GOMAXPROCS=$WORKERS "${SERVER_PIN[@]}" kubectl proxy --kubeconfig "$KUBECONFIG_UPSTREAM" \
		--address 127.0.0.1 --port "$KUBECTL_PORT" >"$WORK/kubectl-proxy.log" 2>&1 &
	PIDS+=($!)
	wait_http "http://127.0.0.1:$KUBECTL_PORT$API_PATH"
}

start_nginx_rp() {
	nginx_conf rp "127.0.0.1:$NGINX_RP_PORT" "$(
		cat <<EOF
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
EOF
	)" "    upstream backend {
        server $UPSTREAM_IP:$UPSTREAM_PORT;
        keepalive 64;
        keepalive_requests 100000000;
    }"
	start_nginx rp
	wait_http "http://127.0.0.1:$NGINX_RP_PORT$API_PATH"
}

PG_PROXY_PID=
start_podgate_proxy() {
	"$PODGATE" proxy --help >/dev/null 2>&1 || return 1
	TOKIO_WORKER_THREADS=$WORKERS RUST_LOG=${RUST_LOG:-warn} "${SERVER_PIN[@]}" "$PODGATE" proxy \
		--kubeconfig "$KUBECONFIG_UPSTREAM" --address 127.0.0.1 --port "$PG_PROXY_PORT" \
		>"$WORK/podgate-proxy.log" 2>&1 &
	PG_PROXY_PID=$!
	PIDS+=("$PG_PROXY_PID")
	wait_http "http://127.0.0.1:$PG_PROXY_PORT$API_PATH"
}

# === measuring ===

write_lua() {
	# Prints one machine-readable line when wrk is done.
	cat >"$WORK/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT %.0f %.3f %.3f %.3f %d %d connect=%d,read=%d,write=%d,timeout=%d,status=%d\n",
    summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    summary.requests, e.connect + e.read + e.write + e.timeout + e.status,
    e.connect, e.read, e.write, e.timeout, e.status))
end
EOF
	# The command line's headers (-H) plus a Content-Type: wrk.format uses the table it is
	# given instead of wrk.headers.
	cat >"$WORK/headers.lua" <<'EOF'
local function headers_with(content_type)
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  h["Content-Type"] = content_type
  return h
end
EOF
	# Creates ConfigMaps with unique names (one wrk thread).
	cat "$WORK/headers.lua" - >"$WORK/create.lua" <<'EOF'
local n = 0
local path = os.getenv("CP_PATH")
local headers
request = function()
  headers = headers or headers_with("application/json")
  n = n + 1
  local body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-' .. n ..
    '"},"data":{"k":"v"}}'
  return wrk.format("POST", path, headers, body)
end
EOF
	# Merge-patches the ConfigMaps the create run made, round robin.
	cat "$WORK/headers.lua" - >"$WORK/patch.lua" <<'EOF'
local n = 0
local path = os.getenv("CP_PATH")
local count = tonumber(os.getenv("CP_COUNT"))
local headers
request = function()
  headers = headers or headers_with("application/merge-patch+json")
  n = n + 1
  local body = '{"data":{"k":"' .. n .. '"}}'
  return wrk.format("PATCH", path .. "/cm-" .. (n % count + 1), headers, body)
end
EOF
	cat "$WORK/report.lua" >>"$WORK/create.lua"
	cat "$WORK/report.lua" >>"$WORK/patch.lua"
}

# wrk_once SECONDS URL [wrk args...] — prints the RESULT fields.
wrk_once() {
	local secs=$1 url=$2
	shift 2
	"${CLIENT_PIN[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" --timeout 5s "$@" "$url" |
		awk '/^RESULT/ {print $2, $3, $4, $5, $6, $7, $8}'
}

# check URL [AUTH] — the row serves 200 with the 1 KiB body, or says what it got.
check() {
	local got
	got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' ${2:+-H "Authorization: Bearer $2"} "$1" || true)
	[[ $got == "200 $BODY_BYTES" ]] && return 0
	echo "answers \"$got\" (want \"200 $BODY_BYTES\")"
	return 1
}

declare -A RPS P50 P99 P999 ERRS NOTE LABEL URL AUTH RANGE
ROWS=()

# row KEY LABEL URL [AUTH] — registers a row after checking that it serves the 1 KiB body.
row() {
	local key=$1 label=$2 url=$3 auth=${4:-} problem
	ROWS+=("$key")
	LABEL[$key]=$label
	if ! problem=$(check "$url" "$auth"); then
		NOTE[$key]="failed: $url $problem"
		log "row $key: ${NOTE[$key]}"
		return
	fi
	URL[$key]=$url
	AUTH[$key]=$auth
}

# wrk_row KEY SECONDS — one wrk run against the row.
wrk_row() {
	local key=$1 secs=$2 args=(-s "$WORK/report.lua")
	[[ -n ${AUTH[$key]} ]] && args+=(-H "Authorization: Bearer ${AUTH[$key]}")
	wrk_once "$secs" "${URL[$key]}" "${args[@]}"
}

# Measures every registered row: a warm-up each, then RUNS rounds that run each row once in
# turn, so that noise from other work on the machine spreads over all rows alike; the median
# run by req/s is kept, with the range of req/s over the runs.
measure_rows() {
	local key r i
	local -A results=()
	for key in "${ROWS[@]}"; do
		[[ -n ${URL[$key]:-} ]] || continue
		log "warm-up ($key) ${LABEL[$key]}: ${WARMUP}s"
		wrk_row "$key" "$WARMUP" >/dev/null
	done
	for ((i = 1; i <= RUNS; i++)); do
		for key in "${ROWS[@]}"; do
			[[ -n ${URL[$key]:-} ]] || continue
			r=$(wrk_row "$key" "$DURATION")
			[[ -n $r ]] || die "wrk printed no result for ${URL[$key]}"
			log "round $i ($key): req/s p50 p99 p99.9 requests errors (kinds) = $r"
			results[$key]+="$r"$'\n'
		done
	done
	for key in "${ROWS[@]}"; do
		[[ -n ${URL[$key]:-} ]] || continue
		local sorted median
		sorted=$(printf '%s' "${results[$key]}" | sort -n -k1,1)
		median=$(awk -v m=$(((RUNS + 1) / 2)) 'NR == m' <<<"$sorted")
		read -r "RPS[$key]" "P50[$key]" "P99[$key]" "P999[$key]" _ "ERRS[$key]" _ <<<"$median"
		RANGE[$key]=$(awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "–" hi }' <<<"$sorted")
	done
}

unavailable() { # unavailable KEY LABEL WHY
	ROWS+=("$1")
	LABEL[$1]=$2
	NOTE[$1]="not available: $3"
	log "row $1: ${NOTE[$1]}"
}

# perf record of podgate up while row (d) runs once more; prints the hottest symbols.
profile_up() {
	[[ $PROFILE == perf ]] || return 0
	command -v perf >/dev/null || { log "PROFILE=perf: no perf"; return 0; }
	log "profiling podgate up during row (d) (perf, cpu-clock, ${DURATION}s)"
	perf record -e cpu-clock -F 999 -p "$UP_PID" -o "$WORK/perf.data" -- sleep "$DURATION" \
		>/dev/null 2>&1 &
	local perf_pid=$!
	wrk_once "$DURATION" "http://127.0.0.1:$UP_PORT$POD_PATH/" -s "$WORK/report.lua" \
		-H "Authorization: Bearer $TOKEN" >/dev/null
	wait "$perf_pid" || true
	PROFILE_TEXT=$(
		perf report -i "$WORK/perf.data" --stdio --sort dso 2>/dev/null | grep -E '^ +[0-9]' | head -5
		echo
		perf report -i "$WORK/perf.data" --stdio --percent-limit 0.5 --sort dso,symbol 2>/dev/null |
			grep -E '^ +[0-9]' | head -40 | cut -c1-160
	)
}

# RSS of podgate (PID, PORT, PATH with auth): idle; with 2,000 open connections that each
# served one request; min/max while one client streams 1 GiB through it.
rss_rows() {
	local pid=$1 port=$2 path=$3 auth=$4 label=$5
	local idle conns stream_max stream_min=0 fds=() fd hdr=""
	[[ -n $auth ]] && hdr="Authorization: Bearer $auth"$'\r\n'
	idle=$(rss_kib "$pid")
	log "RSS $label: 2,000 open connections"
	for ((i = 0; i < 2000; i++)); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$port" || break
		printf 'GET %s/ HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n' "$path" "$hdr" >&"$fd"
		fds+=("$fd")
	done
	sleep 2
	local open
	open=$(ss -Htn state established "( sport = :$port )" 2>/dev/null | wc -l)
	conns=$(rss_kib "$pid")
	for fd in "${fds[@]}"; do exec {fd}>&-; done
	sleep 1
	log "RSS $label: streaming 1 GiB"
	curl -s -o /dev/null -w '%{size_download} %{speed_download}\n' ${auth:+-H "Authorization: Bearer $auth"} \
		"http://127.0.0.1:$port$path/big.bin" >"$WORK/stream.out" &
	local curl_pid=$! samples=()
	while kill -0 "$curl_pid" 2>/dev/null; do
		samples+=("$(rss_kib "$pid")")
		sleep 0.1
	done
	wait "$curl_pid" || true
	read -r bytes speed <"$WORK/stream.out" || true
	stream_min=$(printf '%s\n' "${samples[@]}" | sort -n | head -1)
	stream_max=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
	RSS_LINES+=("| $label | $(mib "$idle") | $(mib "$conns") ($open open) | $(mib "$stream_min") – $(mib "$stream_max") | $(awk -v b="${bytes:-0}" -v s="${speed:-0}" 'BEGIN { printf "%.2f GiB at %.0f MiB/s", b / 2^30, s / 2^20 }') |")
}
RSS_LINES=()

# === control plane ===

CP_LINES=()
cp_line() { CP_LINES+=("| $1 | $2 |"); }

api_latency() {
	log "control plane: API create/patch latency at saturation"
	make_namespace bench-cp
	local url=http://127.0.0.1:$UP_PORT path=/api/v1/namespaces/bench-cp/configmaps r
	r=$(CP_PATH=$path wrk_once "$DURATION" "$url" -s "$WORK/create.lua" -H "Authorization: Bearer $TOKEN")
	local rps p50 p99 p999 errs kinds
	read -r rps p50 p99 p999 _ errs kinds <<<"$r"
	cp_line "ConfigMap create at saturation, $CONNS concurrent clients (wrk)" "$rps/s, p50 $p50 ms, p99 $p99 ms, p99.9 $p999 ms, $errs errors ($kinds)"
	local count
	count=$(kup get configmaps -n bench-cp -o name | wc -l)
	# Names cm-1… were handed out in order, but the last $CONNS requests were in flight when
	# wrk stopped and some of them may not exist: patch only names certainly created.
	count=$((count - CONNS))
	[[ $count -gt 0 ]] || return 0
	r=$(CP_PATH=$path CP_COUNT=$count wrk_once "$DURATION" "$url" -s "$WORK/patch.lua" \
		-H "Authorization: Bearer $TOKEN")
	read -r rps p50 p99 p999 _ errs kinds <<<"$r"
	cp_line "ConfigMap merge patch at saturation ($count objects), $CONNS concurrent clients (wrk)" "$rps/s, p50 $p50 ms, p99 $p99 ms, p99.9 $p999 ms, $errs errors ($kinds)"
}

statefulset_yaml() { # statefulset_yaml NAME REPLICAS POLICY
	cat <<EOF
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: $1, namespace: bench-sts}
spec:
  replicas: $2
  podManagementPolicy: $3
  serviceName: $1
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: sleep, image: busybox, command: ["sleep", "3600"]}]
EOF
}

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# "created ready": pods the namespace's StatefulSets have created, and how many are Ready.
replica_totals() {
	kup get statefulsets -n bench-sts \
		-o jsonpath='{range .items[*]}{.status.replicas} {.status.readyReplicas}{"\n"}{end}' 2>/dev/null |
		awk '{ c += $1; r += $2 } END { print c + 0, r + 0 }'
}

# Deletes a namespace and waits (up to 3 minutes) until it is gone, so the next measurement
# does not share the machine with its pods' termination.
drop_namespace() {
	kup delete namespace "$1" --wait=false >/dev/null 2>&1 || true
	kup wait --for=delete "namespace/$1" --timeout=180s >/dev/null 2>&1 || log "namespace $1 still terminating"
}

# One client creating and patching ConfigMaps in turn (as fast as it gets answers) until
# $WORK/ramp.done exists: the API's latency while the control plane is busy.
api_probe() {
	local url=http://127.0.0.1:$UP_PORT/api/v1/namespaces/bench-ramp/configmaps i=0
	while [[ ! -e $WORK/ramp.done ]]; do
		i=$((i + 1))
		curl -s -o /dev/null -w 'create %{http_code} %{time_total}\n' -H "Authorization: Bearer $TOKEN" \
			-H 'Content-Type: application/json' -d "{\"metadata\":{\"name\":\"ramp-$i\"},\"data\":{\"k\":\"0\"}}" "$url"
		curl -s -o /dev/null -w 'patch %{http_code} %{time_total}\n' -X PATCH -H "Authorization: Bearer $TOKEN" \
			-H 'Content-Type: application/merge-patch+json' -d "{\"data\":{\"k\":\"$i\"}}" "$url/ramp-$i"
	done
}

# p50/p99/max in ms of the KIND lines of an api_probe log, and how many were not 2xx.
probe_summary() {
	awk -v kind="$1" '$1 == kind { n++; if ($2 !~ /^2/) bad++; print $3 * 1000 }
		END { print "bad", bad + 0 > "/dev/stderr" }' "$2" 2>"$WORK/probe.bad" | sort -n |
		awk '{ a[NR] = $1 } END {
			if (NR == 0) { print "no samples"; exit }
			printf "%d requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms", NR, a[int(NR * 0.5 + 0.5)], a[int(NR * 0.99 + 0.5)], a[NR]
		}'
	printf ', %s non-2xx' "$(awk '{print $2}' "$WORK/probe.bad")"
}

statefulsets() {
	make_namespace bench-sts
	# Is there a StatefulSet controller (it creates pods) and a node agent (they get Ready)?
	statefulset_yaml probe 1 Parallel | kup apply -f - >&2
	local has_controller="" has_agent=""
	for _ in $(seq 50); do
		[[ -n $(kup get pods -n bench-sts -l app=probe -o name 2>/dev/null) ]] && { has_controller=1; break; }
		sleep 0.2
	done
	if [[ -n $has_controller ]]; then
		kup wait -n bench-sts --for=condition=Ready pod/probe-0 --timeout=20s >/dev/null 2>&1 && has_agent=1
	fi
	kup delete statefulset -n bench-sts probe --wait=false >/dev/null 2>&1 || true
	local many="100 StatefulSets × 10 replicas (Parallel) until all Ready"
	local step="OrderedReady step (pod n Ready → pod n+1 created)"
	if [[ -z $has_controller ]]; then
		cp_line "$many" "not available: no StatefulSet controller in this build (no pod appeared in 10 s)"
		cp_line "$step" "not available: no StatefulSet controller in this build"
		return
	fi
	if [[ -z $has_agent ]]; then
		cp_line "$many" "not available: no node agent in this build (pods are created but never Ready)"
		cp_line "$step" "not available: no node agent in this build"
		return
	fi

	# OrderedReady first, on a quiet control plane.
	log "control plane: OrderedReady steps"
	make_namespace bench-ord
	# Timestamp every watch event (name, Ready status) as it arrives. kubectl writes into a FIFO
	# so that `$!` is kubectl itself; the reader ends when kubectl does.
	mkfifo "$WORK/ordered.fifo"
	kubectl --kubeconfig "$KUBECONFIG_UP" get pods -n bench-ord -l app=ordered --watch -o \
		jsonpath='{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}' \
		>"$WORK/ordered.fifo" 2>/dev/null &
	local watch_pid=$!
	PIDS+=("$watch_pid")
	while read -r name ready; do echo "$EPOCHREALTIME $name ${ready:-none}"; done \
		<"$WORK/ordered.fifo" >"$WORK/ordered.events" &
	sleep 1
	statefulset_yaml ordered 10 OrderedReady | sed 's/namespace: bench-sts/namespace: bench-ord/' | kup apply -f - >&2
	local deadline=$((SECONDS + 120))
	while ((SECONDS < deadline)); do
		grep -q ' ordered-9 True$' "$WORK/ordered.events" 2>/dev/null && break
		sleep 0.2
	done
	kill "$watch_pid" 2>/dev/null || true
	# Step n: first "ordered-n True" → first event of ordered-(n+1).
	local steps
	steps=$(awk '
		{ split($2, p, "-"); n = p[2] + 0 }
		$3 == "True" && !(n in ready) { ready[n] = $1 }
		!(n in seen) { seen[n] = $1 }
		END {
			for (i = 0; i < 9; i++) if ((i in ready) && ((i + 1) in seen)) {
				d = (seen[i + 1] - ready[i]) * 1000; print d
			}
		}' "$WORK/ordered.events" | sort -n)
	if [[ -n $steps ]]; then
		cp_line "$step, 9 steps, seen through a watch" "$(echo "$steps" | awk '{ a[NR] = $1; s += $1 } END { printf "median %.1f ms, max %.1f ms, mean %.1f ms", a[int((NR + 1) / 2)], a[NR], s / NR }')"
	else
		cp_line "$step" "not measured: ordered-9 never Ready in 120 s"
	fi
	drop_namespace bench-ord

	log "control plane: 100 StatefulSets × 10 replicas"
	# Ten files of ten sets, applied by ten kubectl processes at once, so that the clock
	# measures the control plane more than kubectl's one-request-at-a-time apply.
	for f in $(seq 0 9); do
		for s in $(seq "$((f * 10))" "$((f * 10 + 9))"); do statefulset_yaml "set-$s" 10 Parallel; done \
			>"$WORK/sets-$f.yaml"
	done
	make_namespace bench-ramp
	rm -f "$WORK/ramp.done"
	api_probe >"$WORK/ramp.lat" &
	local probe_pid=$!
	PIDS+=("$probe_pid")
	local t0 t_applied t_created="" t_ready="" created=0 ready=0
	t0=$(now)
	local appliers=()
	for f in $(seq 0 9); do
		kubectl --kubeconfig "$KUBECONFIG_UP" apply -f "$WORK/sets-$f.yaml" >/dev/null &
		appliers+=($!)
	done
	for p in "${appliers[@]}"; do wait "$p" || log "a kubectl apply failed"; done
	t_applied=$(now)
	deadline=$((SECONDS + 300))
	while ((SECONDS < deadline)); do
		read -r created ready <<<"$(replica_totals)"
		if [[ -z $t_created ]] && ((created >= 1000)); then t_created=$(now); fi
		if ((ready >= 1000)); then t_ready=$(now); break; fi
		sleep 0.2
	done
	touch "$WORK/ramp.done"
	wait "$probe_pid" 2>/dev/null || true
	if [[ -n $t_ready ]]; then
		cp_line "$many" "$(elapsed "$t0" "$t_ready") s (10 parallel kubectl apply of 10 sets each returned after $(elapsed "$t0" "$t_applied") s; all 1,000 pods created after $(elapsed "$t0" "$t_created") s)"
	else
		cp_line "$many" "not reached in 300 s: $created pods created, $ready Ready"
	fi
	cp_line "API create latency during that ramp (one client, ConfigMaps)" "$(probe_summary create "$WORK/ramp.lat")"
	cp_line "API merge-patch latency during that ramp (one client)" "$(probe_summary patch "$WORK/ramp.lat")"
	drop_namespace bench-sts
	drop_namespace bench-ramp
}

# === report ===

ratio() { # ratio A B — A's req/s over B's, or why not
	if [[ -n ${RPS[$1]:-} && -n ${RPS[$2]:-} ]]; then
		awk -v a="${RPS[$1]}" -v b="${RPS[$2]}" 'BEGIN { printf "%.2f×", a / b }'
	else
		echo "n/a"
	fi
}

p99_ratio() {
	if [[ -n ${P99[$1]:-} && -n ${P99[$2]:-} ]]; then
		awk -v a="${P99[$1]}" -v b="${P99[$2]}" 'BEGIN { printf "%.2f×", a / b }'
	else
		echo "n/a"
	fi
}

report() {
	local cpu kernel
	cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	kernel=$(uname -r)
	echo "## podgate load benchmark"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ) · podgate $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?') · $(nproc) × $cpu · Linux $kernel"
	echo "· $($NGINX -v 2>&1 | sed 's/^nginx version: //') · wrk $(wrk -v 2>&1 | awk 'NR == 1 {print $2}') · kubectl $(kubectl version --client 2>/dev/null | awk '/Client Version/ {print $3}')"
	echo
	echo "wrk -t$THREADS -c$CONNS, ${DURATION}s × $RUNS rounds over the rows (median run shown) after a ${WARMUP}s warm-up each; 1 KiB body;"
	echo "wrk on CPU $CLIENT_CPUS, upstream and proxy on CPU $SERVER_CPUS; every proxy with $WORKERS worker(s). Upstream: $POD_MODE."
	echo "Load average before/after the rows: $LOAD_BEFORE / $LOAD_AFTER (anything above ~0 is other work sharing the cores)."
	echo "podgate up's own CPU use while idle before the rows (it shares CPU $SERVER_CPUS with every row): ${IDLE_CPU}%."
	echo
	echo "| row | path | req/s | (range over runs) | p50 ms | p99 ms | p99.9 ms | errors | req/s vs (a) |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
	local k
	for k in "${ROWS[@]}"; do
		if [[ -n ${NOTE[$k]:-} ]]; then
			echo "| ($k) | ${LABEL[$k]} | ${NOTE[$k]} | | | | | | |"
		else
			echo "| ($k) | ${LABEL[$k]} | ${RPS[$k]} | ${RANGE[$k]} | ${P50[$k]} | ${P99[$k]} | ${P999[$k]} | ${ERRS[$k]} | $(ratio "$k" a) |"
		fi
	done
	echo
	echo "| ratio | req/s | p99 | target |"
	echo "|---|---:|---:|---|"
	echo "| (b)/(a) podgate proxy / direct | $(ratio b a) | $(p99_ratio b a) | |"
	echo "| (b)/(c) podgate proxy / kubectl proxy | $(ratio b c) | $(p99_ratio b c) | req/s ≥ 5×, p99 ≤ 0.1× |"
	echo "| (b)/(e) podgate proxy / nginx | $(ratio b e) | $(p99_ratio b e) | req/s ≥ 1.0×, p99 ≤ 1.2× |"
	echo "| (d)/(a) pods/proxy / direct | $(ratio d a) | $(p99_ratio d a) | |"
	echo "| (d)/(b) pods/proxy / podgate proxy | $(ratio d b) | $(p99_ratio d b) | req/s ≥ 0.9× |"
	echo "| (d)/(c) pods/proxy / kubectl proxy | $(ratio d c) | $(p99_ratio d c) | (reference) |"
	echo "| (d)/(e) pods/proxy / nginx | $(ratio d e) | $(p99_ratio d e) | (reference) |"
	echo
	echo "| RSS, MiB | idle | 2,000 open connections | while streaming 1 GiB (min – max) | stream |"
	echo "|---|---:|---:|---:|---|"
	printf '%s\n' "${RSS_LINES[@]}"
	echo
	echo "Targets: ≤ 25 MiB idle, ≤ 60 MiB with 2,000 connections, flat while streaming."
	if ((${#CP_LINES[@]})); then
		echo
		echo "| control plane (podgate up) | result |"
		echo "|---|---|"
		printf '%s\n' "${CP_LINES[@]}"
		echo
		echo "Targets: 1,000 pods Ready ≤ 20 s; an OrderedReady step ≤ 20 ms."
	fi
	if [[ -n ${PROFILE_TEXT:-} ]]; then
		echo
		echo "Where podgate up spends its CPU during row (d) (perf, cpu-clock, self time; by binary, then by symbol):"
		echo
		echo '```'
		echo "$PROFILE_TEXT"
		echo '```'
	fi
	echo
	echo "Regenerate: \`benches/load.sh\` (see the knobs at its top)."
}

# === main ===

main() {
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	install_tools
	set_pins
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	build_podgate
	for port in "$UPSTREAM_PORT" "$UP_PORT" "$KUBECTL_PORT" "$NGINX_RP_PORT" "$PG_PROXY_PORT"; do
		if ss -Hltn "( sport = :$port )" 2>/dev/null | grep -q .; then
			die "port $port is in use; set BASE_PORT"
		fi
	done
	write_lua
	start_podgate_up
	local idle_before_pod
	idle_before_pod=$(rss_kib "$UP_PID")
	setup_upstream
	write_upstream_kubeconfig
	# A process that burns CPU while idle would steal it from every row.
	IDLE_CPU=$(cpu_pct "$UP_PID" 3)
	log "podgate up uses ${IDLE_CPU}% CPU while idle"

	LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
	row a "direct: wrk → nginx" "$UPSTREAM$API_PATH"
	if start_podgate_proxy; then
		row b "podgate proxy → nginx" "http://127.0.0.1:$PG_PROXY_PORT$API_PATH"
	elif "$PODGATE" proxy --help >/dev/null 2>&1; then
		unavailable b "podgate proxy → nginx" "podgate proxy did not start: $(tail -1 "$WORK/podgate-proxy.log" 2>/dev/null)"
	else
		unavailable b "podgate proxy → nginx" "this build has no \`podgate proxy\`"
	fi
	if start_kubectl_proxy; then
		row c "kubectl proxy → nginx" "http://127.0.0.1:$KUBECTL_PORT$API_PATH"
	else
		unavailable c "kubectl proxy → nginx" "kubectl proxy did not start"
	fi
	row d "podgate up pods/$POD/proxy/ → nginx" "http://127.0.0.1:$UP_PORT$POD_PATH/" "$TOKEN"
	if start_nginx_rp; then
		row e "nginx keep-alive reverse proxy → nginx" "http://127.0.0.1:$NGINX_RP_PORT$API_PATH"
	else
		unavailable e "nginx keep-alive reverse proxy → nginx" "nginx did not start: $(tail -1 "$WORK/rp/error.log")"
	fi
	measure_rows
	LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
	profile_up

	RSS_LINES+=("| podgate up, at start (before any pod) | $(mib "$idle_before_pod") | | | |")
	rss_rows "$UP_PID" "$UP_PORT" "$POD_PATH" "$TOKEN" "podgate up, pods/proxy (after the load rows)"
	if [[ -n $PG_PROXY_PID ]]; then
		rss_rows "$PG_PROXY_PID" "$PG_PROXY_PORT" "" "" "podgate proxy"
	fi

	# The control plane's numbers are extra: a failure there is reported, not fatal.
	if [[ -z $SKIP_CONTROL_PLANE ]]; then
		# (Called in an || list, set -e does not apply inside them.)
		statefulsets || cp_line "StatefulSets" "failed (see the log above)"
		api_latency || cp_line "API latency" "failed (see the log above)"
	fi
	report
}

main "$@"

#!/usr/bin/env bash
# The interactive commands' costs against `podgate up`, on loopback, with the real kubectl:
#
#   - wall time of `kubectl exec POD -- true` next to `kubectl get pod POD` (the same kubectl
#     start-up, discovery and TLS; the difference is the exec session), over WebSocket and SPDY;
#   - port-forward throughput: 256 MiB through one `kubectl port-forward` connection (the
#     default WebSocket tunnel, and plain SPDY) next to the same download straight from the
#     pod's address, and podgate's RSS before and after.
#
# One command from a fresh clone:  benches/streaming.sh  (needs kubectl, curl, hyperfine,
# python3; it apt-installs hyperfine if missing). Prints a markdown report on stdout.
# Knobs: RUNS=20 (hyperfine runs), SIZE_MIB=256, PODGATE_BIN (skip the build), KEEP=1.
set -euo pipefail

RUNS=${RUNS:-20}
SIZE_MIB=${SIZE_MIB:-256}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/podgate-streaming.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "$*" >&2; }

command -v hyperfine >/dev/null || { apt-get update >&2 && apt-get install -y hyperfine >&2; }
if [ -z "${PODGATE_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release >&2)
  PODGATE_BIN=$ROOT/target/release/podgate
fi

PORT=18101
"$PODGATE_BIN" up --listen 127.0.0.1:$PORT --state-dir "$WORK/state" --no-dns >"$WORK/up.log" 2>&1 &
PG_PID=$!
PIDS+=("$PG_PID")
export KUBECONFIG=$WORK/state/kubeconfig
for _ in $(seq 100); do
  [ -f "$KUBECONFIG" ] && curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
  sleep 0.1
done

# A pod that serves a file of SIZE_MIB from its own address.
mkdir -p "$WORK/www"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/zero >"$WORK/www/blob"
cat >"$WORK/pod.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: bench
spec:
  containers:
  - name: main
    image: python
    command: ["python3", "-m", "http.server", "8000", "--bind", "\$(POD_IP)", "--directory", "$WORK/www"]
    env:
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
YAML
kubectl apply -f "$WORK/pod.yaml" >&2
kubectl wait --for=condition=Ready pod/bench --timeout=60s >&2
POD_IP=$(kubectl get pod bench -o jsonpath='{.status.podIP}')
for _ in $(seq 100); do curl -sf -o /dev/null "http://$POD_IP:8000/" && break; sleep 0.1; done

echo "# podgate streaming benchmark"
echo
echo "$(nproc) cores, $(uname -m), kubectl $(kubectl version --client -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])'); $(date -u +%Y-%m-%d)"
echo
echo "## kubectl exec vs kubectl get ($RUNS runs each)"
echo
hyperfine -N --warmup 3 --runs "$RUNS" --export-markdown "$WORK/exec.md" \
  -n "kubectl get pod" "kubectl get pod bench" \
  -n "kubectl exec true (WebSocket)" "kubectl exec bench -- true" \
  -n "kubectl exec true (SPDY)" "env KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false kubectl exec bench -- true" >&2
cat "$WORK/exec.md"
echo

rss() { awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$PG_PID/status"; }
download() { # url -> MiB/s
  curl -s -o /dev/null -w '%{speed_download}' "$1" | awk '{printf "%.0f", $1 / 1048576}'
}
echo "## port-forward: $SIZE_MIB MiB through one connection"
echo
echo "| path | MiB/s | podgate RSS after |"
echo "|---|---:|---:|"
echo "| direct to the pod ($POD_IP:8000) | $(download "http://$POD_IP:8000/blob") | $(rss) |"
for mode in tunnel spdy; do
  LOCAL=$((PORT + 1))
  if [ "$mode" = spdy ]; then export KUBECTL_PORT_FORWARD_WEBSOCKETS=false; else unset KUBECTL_PORT_FORWARD_WEBSOCKETS; fi
  kubectl port-forward pod/bench $LOCAL:8000 >"$WORK/pf-$mode.log" 2>&1 &
  PF=$!
  PIDS+=("$PF")
  for _ in $(seq 100); do grep -q Forwarding "$WORK/pf-$mode.log" && break; sleep 0.1; done
  label="kubectl port-forward (WebSocket tunnel)"
  [ "$mode" = spdy ] && label="kubectl port-forward (SPDY)"
  echo "| $label | $(download "http://127.0.0.1:$LOCAL/blob") | $(rss) |"
  kill "$PF" 2>/dev/null || true
  wait "$PF" 2>/dev/null || true
done

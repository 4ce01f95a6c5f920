#!/usr/bin/env bash
# A long 4 KiB load on one target, run after run, with the garbage collector's work per run: the
# benchmark behind docs/benchmarks.md's "Fixed: 4 KiB writes lost half their speed after the first
# full GC". Before that fix the target flipped, after ~1.4 million writes, into a mode with 12-14
# mark-compacts per run and twice the CPU per command.
#
#   test/bench/long-run-gc.sh [REPO] [RUNS]     (env: WRITE=1, PORT=3264, NODE_FLAGS, FORCE_AT=N)
#
# REPO (default: this checkout) must hold dist/. Starts its config/bench.yaml on PORT (admin PORT+6210,
# LUN 0 on a fresh /dev/shm file) under `node --trace-gc`, target pinned to CPU 1, then RUNS times
# `qemu-img bench -t none -d 32 -s 4096 -c 100000` (writes of 0xA5 unless WRITE=0) pinned to CPU 0.
# Per run: wall seconds, target CPU µs per command, mark-compacts, scavenges, RSS.
# FORCE_AT=N forces a full GC after run N (a heap snapshot: NODE_FLAGS=--heapsnapshot-signal=SIGUSR2).
set -euo pipefail
REPO=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
RUNS=${2:-24} PORT=${PORT:-3264} WRITE=${WRITE:-1}
[[ -f $REPO/dist/cli/main.js ]] || { echo "$REPO/dist/cli/main.js missing: npm run build first" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/long-run-gc.XXXXXX")
IMG=/dev/shm/long-run-gc-$PORT.img
sed -e "s#port: 3262#port: $PORT#" -e "s#admin: { port: 9472 }#admin: { port: $((PORT + 6210)) }#" \
  -e "s#/dev/shm/scatter-bench.img,#$IMG, create: always,#" "$REPO/config/bench.yaml" > "$T/bench.yaml"
# shellcheck disable=SC2086 # NODE_FLAGS is a list of flags
(cd "$REPO" && exec node --trace-gc ${NODE_FLAGS:-} dist/cli/main.js serve --config "$T/bench.yaml") > "$T/gc.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait; rm -rf "$T" "$IMG" "$REPO"/*.heapsnapshot' EXIT
for _ in $(seq 1 300); do
  timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null && break
  kill -0 $PID 2>/dev/null || { cat "$T/gc.log" >&2; exit 1; }
  sleep 0.1
done
for t in /proc/$PID/task/*; do taskset -pc 1 "${t##*/}" > /dev/null; done
URL="json:{\"file.driver\":\"iscsi\",\"file.transport\":\"tcp\",\"file.portal\":\"127.0.0.1:$PORT\",\"file.target\":\"iqn.2026-11.io.scatter:bench\",\"file.lun\":0}"
wargs=(); [[ $WRITE == 1 ]] && wargs=(-w --pattern=165)
HZ=$(getconf CLK_TCK)
count() { grep -c "$1" "$T/gc.log" || true; }
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$PID/stat"; }
for r in $(seq 1 "$RUNS"); do
  mc0=$(count Mark-Compact) sc0=$(count Scavenge) c0=$(ticks) s=$(date +%s.%N)
  taskset -c 0 qemu-img bench -f raw -t none -d 32 -s 4096 -c 100000 -o 0 -S 165916672 "${wargs[@]}" "$URL" > /dev/null
  e=$(date +%s.%N) c1=$(ticks) mc1=$(count Mark-Compact) sc1=$(count Scavenge)
  rss=$(awk '/VmRSS/ { print $2 }' "/proc/$PID/status")
  awk -v r="$r" -v s="$s" -v e="$e" -v c="$((c1 - c0))" -v hz="$HZ" -v mc="$((mc1 - mc0))" -v sc="$((sc1 - sc0))" -v rss="$rss" \
    'BEGIN { printf "run %2d %6.2f s  cpu %5.1f us/cmd  mark-compacts %3d  scavenges %4d  rss %d MB\n", r, e - s, c * 1e6 / hz / 100000, mc, sc, rss / 1024 }'
  if [[ -n ${FORCE_AT:-} && $r == "$FORCE_AT" ]]; then
    kill -USR2 $PID
    # The snapshot is written when the file appears; the GC it forced is over by then.
    for _ in $(seq 1 600); do compgen -G "$REPO/*.heapsnapshot" > /dev/null && break; sleep 0.1; done
  fi
done

#!/usr/bin/env bash
# 1 MiB writes (QD 4) on a fresh target and on one that has just served a 4 KiB workload, pinned
# like ../shared/bench (target threads on CPU 1, qemu-img on CPU 0): the harness runs its 1 MiB
# writes after its 4 KiB reads, and this shows what that history costs.
#
#   test/bench/after-reads.sh REPO [REPS]        (env: PRE=150000 4 KiB commands first)
#
# REPO is a checkout with dist/ built. Each repetition starts a target on a copy of REPO's
# config/bench.yaml (port 3268, admin 9478, its own /dev/shm file) three times: with no workload
# first, after PRE 4 KiB random reads, after PRE 4 KiB random writes; then 1500 x 1 MiB writes.
# Prints seconds, target CPU (utime+stime) per 1 MiB command and the target's RSS.
set -euo pipefail
[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: $0 REPO [REPS]" >&2; exit 2; }
REPO=$(cd "$1" && pwd)
REPS=${2:-2}
PRE=${PRE:-150000}
PORT=3268
IMG=/dev/shm/scatter-after-reads-$$.img
TMP=$(mktemp -d "${TMPDIR:-/tmp}/scatter-after-reads.XXXXXX")
PID=
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$TMP" "$IMG"
}
trap cleanup EXIT
[[ -f $REPO/dist/cli/main.js ]] || { echo "$REPO/dist/cli/main.js missing: build it first" >&2; exit 1; }
sed -e "s#port: 3262#port: $PORT#" -e "s#admin: { port: 9472 }#admin: { port: 9478 }#" \
  -e "s#/dev/shm/scatter-bench.img#$IMG#" "$REPO/config/bench.yaml" > "$TMP/bench.yaml"
grep -q "port: $PORT" "$TMP/bench.yaml" || { echo "could not move the portal of $REPO/config/bench.yaml" >&2; exit 1; }
URL="json:{\"driver\":\"raw\",\"file\":{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"127.0.0.1:$PORT\",\"target\":\"iqn.2026-11.io.scatter:bench\",\"lun\":0}}"
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

one() { # before: none | reads | writes
  (cd "$REPO" && exec node dist/cli/main.js serve --config "$TMP/bench.yaml") > "$TMP/target.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do
    timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$TMP/target.log" >&2; exit 1; }
    sleep 0.1
  done
  for t in /proc/$PID/task/*; do taskset -pc 1 "${t##*/}" > /dev/null; done
  case $1 in
    reads) taskset -c 0 qemu-img bench -t none -d 32 -s 4096 -c "$PRE" -o 0 -S 165916672 "$URL" > /dev/null ;;
    writes) taskset -c 0 qemu-img bench -t none -d 32 -s 4096 -c "$PRE" -o 0 -S 165916672 -w "$URL" > /dev/null ;;
  esac
  local a b out secs
  a=$(ticks "$PID")
  out=$(taskset -c 0 qemu-img bench -t none -d 4 -s 1048576 -c 1500 -w --pattern=165 "$URL" 2>&1)
  b=$(ticks "$PID")
  secs=$(sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p' <<< "$out")
  [[ -n $secs ]] || { echo "qemu-img failed: $out" >&2; exit 1; }
  awk -v w="$1" -v s="$secs" -v d=$((b - a)) -v hz="$HZ" -v rss="$(awk '/VmRSS/ { print $2 }' "/proc/$PID/status")" 'BEGIN {
    printf "%-7s %7.2f %12.0f %10d\n", w, s, d / hz * 1e6 / 1500, rss }'
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
}

echo "$REPO ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')): 1500 x 1 MiB writes QD4, after PRE=$PRE 4 KiB commands"
printf '%-7s %7s %12s %10s\n' before secs cpu_us/cmd rss_KiB
for _ in $(seq 1 "$REPS"); do for w in none reads writes; do one "$w"; done; done

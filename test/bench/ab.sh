#!/usr/bin/env bash
# Interleaved A/B comparison of two builds of Scatter on one qemu-img workload, pinned like
# ../shared/bench (initiator on CPU 0, every thread of both targets on CPU 1).
#
#   test/bench/ab.sh REPO_A REPO_B      (env: SIZE=4096 QD=32 COUNT=50000 REPS=6 WRITE=1 LUN=0 STEP)
#
# REPO_A and REPO_B are checkouts with dist/ built (e.g. a `git worktree` of the commit before).
# Both targets run at once from their own config/bench.yaml, moved to ports 3266 / 3267 (admin
# 9476 / 9477) and their own /dev/shm file; each repetition runs A then B then alternates, and
# prints MB/s and target CPU (utime+stime) per command. Read the paired ratios per repetition:
# this machine's noise (CPU steal) moves whole runs, not pairs.
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 REPO_A REPO_B" >&2; exit 2; }
SIZE=${SIZE:-4096} QD=${QD:-32} COUNT=${COUNT:-50000} REPS=${REPS:-6} WRITE=${WRITE:-1} LUN=${LUN:-0}
# Small blocks stride through the LUN (as ../shared/bench's random workloads); large ones are sequential.
STEP=${STEP:-$((SIZE < 65536 ? 165916672 : SIZE))}
IQN=iqn.2026-11.io.scatter:bench
TMP=$(mktemp -d "${TMPDIR:-/tmp}/scatter-ab.XXXXXX")
declare -A PID PORT
PORT[A]=3266 PORT[B]=3267

cleanup() {
  for side in A B; do [[ -n ${PID[$side]:-} ]] && kill "${PID[$side]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP" /dev/shm/scatter-ab-$$-A.img /dev/shm/scatter-ab-$$-B.img
}
trap cleanup EXIT

start() { # side repo
  local side=$1 repo admin=$((PORT[$1] + 6210))
  repo=$(cd "$2" && pwd)
  [[ -f $repo/dist/cli/main.js ]] || { echo "$repo/dist/cli/main.js missing: build it first" >&2; exit 1; }
  sed -e "s#port: 3262#port: ${PORT[$side]}#" -e "s#admin: { port: 9472 }#admin: { port: $admin }#" \
    -e "s#/dev/shm/scatter-bench.img#/dev/shm/scatter-ab-$$-$side.img#" "$repo/config/bench.yaml" > "$TMP/$side.yaml"
  grep -q "port: ${PORT[$side]}" "$TMP/$side.yaml" || { echo "could not move $repo/config/bench.yaml's portal" >&2; exit 1; }
  (cd "$repo" && exec node dist/cli/main.js serve --config "$TMP/$side.yaml") > "$TMP/$side.log" 2>&1 &
  PID[$side]=$!
  echo "$side = $repo ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')), port ${PORT[$side]}"
}

up() { # side
  for _ in $(seq 1 300); do
    timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/${PORT[$1]}" 2>/dev/null && return 0
    kill -0 "${PID[$1]}" 2>/dev/null || { echo "target $1 exited; see its log:" >&2; cat "$TMP/$1.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "target $1 does not listen" >&2; exit 1
}

ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

start A "$1"; start B "$2"; up A; up B
for side in A B; do for t in /proc/${PID[$side]}/task/*; do taskset -pc 1 "${t##*/}" > /dev/null; done; done
HZ=$(getconf CLK_TCK)
wargs=(); [[ $WRITE == 1 ]] && wargs=(-w --pattern=165)
echo "qemu-img bench -t none -d $QD -s $SIZE -c $COUNT -o 0 -S $STEP ${wargs[*]} (lun $LUN), $REPS repetitions"
printf '%-4s %-5s %9s %12s %8s\n' rep side MB/s cpu_us/cmd cpu%
for r in $(seq 1 "$REPS"); do
  order="A B"; ((r % 2 == 0)) && order="B A"
  for side in $order; do
    url="json:{\"driver\":\"raw\",\"file\":{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"127.0.0.1:${PORT[$side]}\",\"target\":\"$IQN\",\"lun\":$LUN}}"
    a=$(ticks "${PID[$side]}")
    out=$(taskset -c 0 qemu-img bench -t none -d "$QD" -s "$SIZE" -c "$COUNT" -o 0 -S "$STEP" "${wargs[@]}" "$url" 2>&1) || { echo "qemu-img failed on $side: $out" >&2; exit 1; }
    b=$(ticks "${PID[$side]}")
    secs=$(sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p' <<< "$out")
    [[ -n $secs ]] || { echo "qemu-img failed on $side: $out" >&2; exit 1; }
    awk -v r="$r" -v s="$side" -v n="$COUNT" -v sz="$SIZE" -v t="$secs" -v d=$((b - a)) -v hz="$HZ" 'BEGIN {
      printf "%-4s %-5s %9.1f %12.1f %8.0f\n", r, s, n * sz / t / 1e6, d / hz * 1e6 / n, d / hz / t * 100 }'
  done
done

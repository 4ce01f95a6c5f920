#!/usr/bin/env bash
# CPU profiles of the benchmark target, one workload per target process, rendered as flame graphs.
#
#   test/bench/profile.sh OUTDIR [REPO_DIR]        (env: COUNT=100000 requests per case)
#
# Builds nothing: REPO_DIR (default: this script's repository) must hold dist/. For each case
# (read-file, write-file, read-null, write-null) it starts
#   node --cpu-prof dist/cli/main.js serve --config <copy of config/bench.yaml>
# (LUN 0 = file in /dev/shm, unique per run; LUN 1 = null; portal 127.0.0.1:3262, admin 9472),
# runs one `qemu-img bench` (qd 32, 4 KiB) against it, stops it with SIGINT so Node writes the
# profile, and leaves in OUTDIR:
#   <case>.cpuprofile  the V8 profile          <case>.svg   its flame graph (flamegraph.mjs)
#   <case>.top.txt     top 25 by self time     <case>.log   target stdout/stderr, then qemu-img output
#   summary.txt        per case: run time, IOPS, target CPU seconds, µs of target CPU per command
# Needs: node, qemu-img with the iscsi driver, ports 3262 and 9472 free.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR [REPO_DIR]   (env COUNT, default 100000)" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEFAULT_REPO=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel 2>/dev/null || (cd "$SCRIPT_DIR/../.." && pwd))
REPO_DIR=$(cd "${2:-$DEFAULT_REPO}" && pwd)
mkdir -p "$1"
OUTDIR=$(cd "$1" && pwd)
COUNT=${COUNT:-100000}
[[ $COUNT =~ ^[1-9][0-9]*$ ]] || { echo "COUNT must be a positive integer, not '$COUNT'" >&2; exit 2; }

HOST=127.0.0.1
PORT=3262
ADMIN_PORT=9472
IQN=iqn.2026-11.io.scatter:bench
FLAMEGRAPH=$SCRIPT_DIR/flamegraph.mjs
BASE_CFG=$REPO_DIR/config/bench.yaml
IMG=/dev/shm/scatter-prof-$$.img
CLK_TCK=$(getconf CLK_TCK)

[[ -f $REPO_DIR/dist/cli/main.js ]] || { echo "$REPO_DIR/dist/cli/main.js missing: run 'npm run build' first" >&2; exit 1; }
[[ -f $BASE_CFG ]] || { echo "$BASE_CFG missing" >&2; exit 1; }
[[ -f $FLAMEGRAPH ]] || { echo "$FLAMEGRAPH missing" >&2; exit 1; }
command -v qemu-img >/dev/null || { echo "qemu-img not found" >&2; exit 1; }

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }
for p in "$PORT" "$ADMIN_PORT"; do
  if port_open "$HOST" "$p"; then echo "$HOST:$p already accepts connections: stop the other target first" >&2; exit 1; fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/scatter-prof.XXXXXX")
TARGET_PID=

cleanup() {
  local rc=$?
  if [[ -n $TARGET_PID ]] && kill -0 "$TARGET_PID" 2>/dev/null; then
    kill -INT "$TARGET_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$TARGET_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$TARGET_PID" 2>/dev/null || true
    wait "$TARGET_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
  rm -f "$IMG"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The benchmark config with the file LUN moved to a path of this run's own.
CFG=$TMP/bench.yaml
sed "s#path: /dev/shm/scatter-bench.img#path: $IMG#" "$BASE_CFG" > "$CFG"
grep -q "path: $IMG" "$CFG" || { echo "could not rewrite the file LUN's path in $BASE_CFG" >&2; exit 1; }

# utime + stime of a process, in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

SUMMARY=$OUTDIR/summary.txt
{
  echo "scatter CPU profile run: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?') in $REPO_DIR"
  echo "qemu-img bench -f raw -t none -d 32 -s 4096 -c $COUNT -o 0 -S 165916672; target under node --cpu-prof (the profiler adds overhead: compare IOPS and CPU only between profiled runs)"
  echo "cpu s = target utime+stime during the qemu-img run (startup excluded); all s = whole target process; CLK_TCK=$CLK_TCK"
  printf '%-11s %8s %9s %10s %8s %8s %11s\n' case count run_s IOPS cpu_s all_s us_cpu/cmd
} > "$SUMMARY"

run_case() { # name lun write(0|1)
  local name=$1 lun=$2 write=$3
  local profdir=$TMP/prof-$name log=$OUTDIR/$name.log
  # -f raw takes the format layer; the json names it and its protocol child, the iscsi driver.
  local url="json:{\"driver\":\"raw\",\"file\":{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"$HOST:$PORT\",\"target\":\"$IQN\",\"lun\":$lun}}"
  local -a wargs=()
  [[ $write == 1 ]] && wargs=(-w --pattern=165)
  mkdir -p "$profdir"
  rm -f "$OUTDIR/$name.cpuprofile" "$OUTDIR/$name.svg" "$OUTDIR/$name.top.txt"

  echo "== $name: starting target" >&2
  (cd "$REPO_DIR" && exec node --cpu-prof --cpu-prof-dir="$profdir" dist/cli/main.js serve --config "$CFG") > "$log" 2>&1 &
  TARGET_PID=$!

  local deadline=$((SECONDS + 30))
  until port_open "$HOST" "$PORT"; do
    if ! kill -0 "$TARGET_PID" 2>/dev/null; then echo "$name: target exited before listening; see $log" >&2; tail -20 "$log" >&2; exit 1; fi
    if ((SECONDS >= deadline)); then echo "$name: portal $HOST:$PORT not up after 30 s; see $log" >&2; exit 1; fi
    sleep 0.1
  done

  echo "== $name: qemu-img bench -c $COUNT${wargs:+ ${wargs[*]}} (lun $lun)" >&2
  local t0 t1 out rc=0
  t0=$(cpu_ticks "$TARGET_PID")
  out=$(qemu-img bench -f raw -t none -d 32 -s 4096 -c "$COUNT" -o 0 -S 165916672 "${wargs[@]}" "$url" 2>&1) || rc=$?
  t1=$(cpu_ticks "$TARGET_PID")
  printf '%s\n' "== qemu-img (exit $rc)" "$out" >> "$log"
  if ((rc != 0)); then echo "$name: qemu-img failed (exit $rc):" >&2; printf '%s\n' "$out" >&2; exit 1; fi
  local run_s
  run_s=$(printf '%s\n' "$out" | sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p' | tail -1)
  [[ -n $run_s ]] || { echo "$name: no 'Run completed in' line from qemu-img:" >&2; printf '%s\n' "$out" >&2; exit 1; }

  # SIGINT: the target shuts down and Node writes the profile on the way out.
  local all_ticks trc=0
  all_ticks=$(cpu_ticks "$TARGET_PID")
  kill -INT "$TARGET_PID"
  local stop_deadline=$((SECONDS + 30))
  while kill -0 "$TARGET_PID" 2>/dev/null; do
    if ((SECONDS >= stop_deadline)); then echo "$name: target did not stop within 30 s of SIGINT" >&2; exit 1; fi
    sleep 0.1
  done
  wait "$TARGET_PID" || trc=$?
  TARGET_PID=
  ((trc == 0)) || echo "$name: target exited with status $trc; see $log" >&2

  local prof
  prof=$(find "$profdir" -name '*.cpuprofile' -print | head -1)
  [[ -n $prof ]] || { echo "$name: the target wrote no .cpuprofile; see $log" >&2; exit 1; }
  mv "$prof" "$OUTDIR/$name.cpuprofile"
  node "$FLAMEGRAPH" "$OUTDIR/$name.cpuprofile" "$OUTDIR/$name.svg" \
    --title "scatter $name: qemu-img bench qd32 4KiB x $COUNT (lun $lun), node --cpu-prof" > "$OUTDIR/$name.top.txt"

  awk -v n="$name" -v c="$COUNT" -v r="$run_s" -v d=$((t1 - t0)) -v a="$all_ticks" -v hz="$CLK_TCK" 'BEGIN {
    cpu = d / hz; all = a / hz
    printf "%-11s %8d %9.3f %10.0f %8.2f %8.2f %11.1f\n", n, c, r, (r > 0 ? c / r : 0), cpu, all, cpu * 1e6 / c
  }' >> "$SUMMARY"
  echo "== $name: done, run $run_s s, target cpu $(((t1 - t0))) ticks" >&2
}

run_case read-file 0 0
run_case write-file 0 1
run_case read-null 1 0
run_case write-null 1 1

cat "$SUMMARY"
echo "profiles, flame graphs and top-25 tables in $OUTDIR" >&2

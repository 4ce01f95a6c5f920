# Scenario bodies for /init (sourced). Each either returns (pass) or calls fail.

node_set() { must iscsiadm -m node -T "$IQN" -p "$PORTAL" -o update -n "$1" -v "$2"; }

# A node record for the virtual portal (SendTargets announces the host's 127.0.0.1 address).
node_new() { must iscsiadm -m node -o new -T "$IQN" -p "$PORTAL,1"; }

login() { must iscsiadm -m node -T "$IQN" -p "$PORTAL" --login; }

logout() { must iscsiadm -m node -T "$IQN" -p "$PORTAL" --logout; }

# Waits (up to 20 s) for the session's disk; sets DISK=/dev/sdX.
wait_disk() {
  i=0
  while [ $i -lt 200 ]; do
    for b in /sys/class/iscsi_session/session*/device/target*/*/block/*; do
      if [ -e "$b" ] && [ -b "/dev/${b##*/}" ]; then DISK=/dev/${b##*/}; return 0; fi
    done
    sleep 0.1
    i=$((i + 1))
  done
  fail 'no disk appeared after login'
}

# The kernel reports digests in use as 1 (CRC32C) or 0 (None).
check_digests() {
  c=/sys/class/iscsi_connection/$(ls /sys/class/iscsi_connection | head -1)
  [ "$(cat "$c/header_digest")" = 1 ] || fail "header digest not in use: $(cat "$c/header_digest")"
  [ "$(cat "$c/data_digest")" = 1 ] || fail "data digest not in use: $(cat "$c/data_digest")"
}

check_gone() {
  [ -z "$(ls /sys/class/iscsi_session)" ] || fail 'session still present after logout'
  [ ! -e "/sys/block/${DISK##*/}" ] || fail "$DISK still present after logout"
}

# The guest must reach the target through the virtual portal and nothing else.
check_confined() {
  if nc -w 2 10.0.2.2 "$TARGET_PORT" </dev/null >/dev/null 2>&1; then fail 'guest reached the host loopback via 10.0.2.2'; fi
  if nc -w 2 10.0.2.100 3261 </dev/null >/dev/null 2>&1; then fail 'guest reached 10.0.2.100:3261'; fi
}

# dd the host-made pattern to the start and the last blocks, read both back with O_DIRECT.
pattern_io() {
  lun_mib=$((LUN_BYTES / 1048576))
  pat_mib=$((PATTERN_BYTES / 1048576))
  blocks=$(cat "/sys/block/${DISK##*/}/size")
  [ "$((blocks * 512))" = "$LUN_BYTES" ] || fail "disk size $((blocks * 512)) != $LUN_BYTES"
  t0=$(now)
  must dd if=/pattern.bin of="$DISK" bs=1M oflag=direct conv=fsync
  must dd if=/pattern.bin of="$DISK" bs=1M seek=$((lun_mib - pat_mib)) oflag=direct conv=fsync
  t1=$(now)
  echo 3 > /proc/sys/vm/drop_caches
  must dd if="$DISK" of=/tmp/head.bin bs=1M count="$pat_mib" iflag=direct
  must dd if="$DISK" of=/tmp/tail.bin bs=1M skip=$((lun_mib - pat_mib)) count="$pat_mib" iflag=direct
  t2=$(now)
  cmp /pattern.bin /tmp/head.bin || fail 'readback of the first blocks differs'
  cmp /pattern.bin /tmp/tail.bin || fail 'readback of the last blocks differs'
  metric write_s "$(echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}')"
  metric read_s "$(echo "$t1 $t2" | awk '{printf "%.2f", $2 - $1}')"
  metric readback_md5 "$(md5sum < /tmp/tail.bin | cut -d' ' -f1)"
  rm -f /tmp/head.bin /tmp/tail.bin
}

# 16 writers, then 16 readers, at once (4 KiB O_DIRECT commands: 16 in flight), each on its own
# slice of the pattern at 16 MiB; the slices read back must make up the pattern.
concurrent_io() {
  pids=''
  i=0
  while [ $i -lt 16 ]; do
    dd if=/pattern.bin of="$DISK" bs=4k skip=$((i * 64)) seek=$((4096 + i * 64)) count=64 oflag=direct 2>/tmp/dd$i.err &
    pids="$pids $!"
    i=$((i + 1))
  done
  for p in $pids; do wait "$p" || fail "a concurrent writer failed: $(cat /tmp/dd*.err)"; done
  echo 3 > /proc/sys/vm/drop_caches
  pids=''
  i=0
  while [ $i -lt 16 ]; do
    dd if="$DISK" of="/tmp/part$i" bs=4k skip=$((4096 + i * 64)) count=64 iflag=direct 2>/tmp/dd$i.err &
    pids="$pids $!"
    i=$((i + 1))
  done
  for p in $pids; do wait "$p" || fail "a concurrent reader failed: $(cat /tmp/dd*.err)"; done
  i=0
  : > /tmp/all.bin
  while [ $i -lt 16 ]; do cat "/tmp/part$i" >> /tmp/all.bin; rm "/tmp/part$i"; i=$((i + 1)); done
  head -c 4194304 /pattern.bin | cmp - /tmp/all.bin || fail 'concurrent readback differs'
  rm -f /tmp/all.bin /tmp/dd*.err
}

# mkfs, files, fsck, read-only remount and compare.
filesystem() {
  must /sbin/mke2fs -t ext4 -q -F "$DISK"
  must mount -t ext4 "$DISK" /mnt
  mkdir /mnt/d
  cp /pattern.bin /mnt/pattern.bin
  i=0
  while [ $i -lt 50 ]; do
    dd if=/pattern.bin of="/mnt/d/f$i" bs=4096 skip=$i count=$((i + 1)) 2>/dev/null
    i=$((i + 1))
  done
  (cd /mnt && find . -type f | sort | xargs md5sum) > /tmp/sums
  sync
  must umount /mnt
  must /sbin/e2fsck -fn "$DISK"
  must mount -t ext4 -o ro "$DISK" /mnt
  (cd /mnt && md5sum -c /tmp/sums >/tmp/sums.out 2>&1) || { sed 's/^/E2E-LOG /' /tmp/sums.out; fail 'files differ after remount'; }
  must umount /mnt
}

scenario_basic() {
  check_confined
  step discovery-start
  must iscsiadm -m discovery -t st -p "$PORTAL"
  grep -q "$IQN" /tmp/must.out || fail "discovery did not list $IQN"
  step discovery
  node_new
  login
  wait_disk
  step login
  check_digests
  pattern_io
  step dd
  concurrent_io
  step concurrent
  filesystem
  step fs
  logout
  check_gone
  step logout
}

# Login, then IDLE_S seconds without I/O: the session must survive the NOP exchange.
scenario_idle() {
  node_new
  login
  wait_disk
  check_digests
  sess=$(ls /sys/class/iscsi_session)
  # Let the disk probe's reads (partition table) finish before counting idle traffic.
  sleep 3
  step idle-start
  sleep "$IDLE_S"
  step idle-end
  [ "$(ls /sys/class/iscsi_session)" = "$sess" ] || fail "session changed: $sess -> $(ls /sys/class/iscsi_session)"
  state=$(cat "/sys/class/iscsi_session/$sess/state")
  [ "$state" = LOGGED_IN ] || fail "session state $state after idling"
  if dmesg | grep -q 'conn error'; then fail 'connection error while idle'; fi
  must dd if=/pattern.bin of="$DISK" bs=1M oflag=direct conv=fsync
  echo 3 > /proc/sys/vm/drop_caches
  must dd if="$DISK" of=/tmp/head.bin bs=1M count=$((PATTERN_BYTES / 1048576)) iflag=direct
  cmp /pattern.bin /tmp/head.bin || fail 'readback after idling differs'
  logout
  check_gone
}

# One CHAP login attempt. $1 name, $2 target, $3 algorithm, $4 password, $5 password_in ('' = one-way), $6 ok|fail
chap_case() {
  IQN=$2
  node_new
  node_set node.session.auth.authmethod CHAP
  node_set node.session.auth.chap_algs "$3"
  node_set node.session.auth.username "$CHAP_USER"
  node_set node.session.auth.password "$4"
  if [ -n "$5" ]; then
    node_set node.session.auth.username_in "$MUTUAL_USER"
    node_set node.session.auth.password_in "$5"
  fi
  if iscsiadm -m node -T "$IQN" -p "$PORTAL" --login >/tmp/login.out 2>&1; then
    [ "$6" = ok ] || fail "$1: login succeeded but must fail"
    wait_disk
    must dd if="$DISK" of=/dev/null bs=64k count=16 iflag=direct
    logout
    check_gone
  else
    sed 's/^/E2E-LOG /' /tmp/login.out
    [ "$6" = fail ] || fail "$1: login failed"
    [ -z "$(ls /sys/class/iscsi_session)" ] || fail "$1: a session exists after a failed login"
  fi
  must iscsiadm -m node -o delete -T "$IQN" -p "$PORTAL"
  step "chap-$1-$6"
}

# Every algorithm open-iscsi offers, one-way and mutual, each against a target that accepts only it.
scenario_chap() {
  for alg in MD5 SHA1 SHA256 SHA3-256; do
    lower=$(echo "$alg" | tr 'A-Z' 'a-z')
    chap_case "oneway-$lower" "$IQN_BASE:chap-$lower" "$alg" "$CHAP_SECRET" '' ok
    chap_case "mutual-$lower" "$IQN_BASE:mutual-$lower" "$alg" "$CHAP_SECRET" "$MUTUAL_SECRET" ok
  done
  chap_case wrong-secret "$IQN_BASE:chap-sha256" SHA256 "not-the-right-secret" '' fail
  chap_case wrong-target-secret "$IQN_BASE:mutual-sha256" SHA256 "$CHAP_SECRET" "not-the-target-secret" fail
  chap_case no-common-algorithm "$IQN_BASE:chap-md5" SHA256 "$CHAP_SECRET" '' fail
}

# Writes the pattern to slots 0..$1-1 (pattern-sized, from the start of the disk).
write_slots() {
  n=0
  while [ "$n" -lt "$1" ]; do
    must dd if=/pattern.bin of="$DISK" bs=1M seek=$((n * PATTERN_BYTES / 1048576)) oflag=direct conv=fsync
    n=$((n + 1))
  done
}

# Reads slots 0..$1-1 back with O_DIRECT and compares each with the pattern.
verify_slots() {
  echo 3 > /proc/sys/vm/drop_caches
  n=0
  while [ "$n" -lt "$1" ]; do
    must dd if="$DISK" of=/tmp/slot.bin bs=1M skip=$((n * PATTERN_BYTES / 1048576)) count=$((PATTERN_BYTES / 1048576)) iflag=direct
    cmp /pattern.bin /tmp/slot.bin || fail "slot $n differs after recovery"
    n=$((n + 1))
  done
  rm -f /tmp/slot.bin
}

# The host cuts the connection (guest side only) while we write; open-iscsi logs in again
# with the same ISID and the target must replace the old session.
scenario_reinstate() {
  node_new
  login
  wait_disk
  sess=$(ls /sys/class/iscsi_session)
  sleep 2
  step writing
  write_slots "$SLOTS"
  step written
  dmesg | grep -q 'detected conn error' || fail 'the connection was never cut'
  [ "$(ls /sys/class/iscsi_session)" = "$sess" ] || fail "session changed: $sess -> $(ls /sys/class/iscsi_session)"
  [ "$(cat "/sys/class/iscsi_session/$sess/state")" = LOGGED_IN ] || fail 'session not logged in after recovery'
  verify_slots "$SLOTS"
  step verified
  logout
  check_gone
}

# The host stops the target (SIGTERM) and starts it again while we write files;
# open-iscsi must get back in within its replacement timeout and every write land.
scenario_restart() {
  node_new
  login
  wait_disk
  sess=$(ls /sys/class/iscsi_session)
  must /sbin/mke2fs -t ext4 -q -F "$DISK"
  must mount -t ext4 "$DISK" /mnt
  step writing
  n=0
  while [ "$n" -lt "$FILES" ]; do
    must dd if=/pattern.bin of="/mnt/f$n" bs=1M conv=fsync
    n=$((n + 1))
  done
  step written
  sync
  must umount /mnt
  [ "$(ls /sys/class/iscsi_session)" = "$sess" ] || fail "session changed: $sess -> $(ls /sys/class/iscsi_session)"
  must /sbin/e2fsck -fn "$DISK"
  echo 3 > /proc/sys/vm/drop_caches
  must mount -t ext4 -o ro "$DISK" /mnt
  n=0
  while [ "$n" -lt "$FILES" ]; do
    cmp /pattern.bin "/mnt/f$n" || fail "file f$n differs after the restart"
    n=$((n + 1))
  done
  must umount /mnt
  step verified
  logout
  check_gone
}

# The session's disk for LUN $1 (waits up to 20 s), found by its SCSI address H:C:T:L in sysfs.
disk_of_lun() {
  i=0
  while [ $i -lt 200 ]; do
    for b in /sys/class/iscsi_session/session*/device/target*/*:*:*:"$1"/block/*; do
      if [ -e "$b" ] && [ -b "/dev/${b##*/}" ]; then echo "/dev/${b##*/}"; return 0; fi
    done
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

# sg_xcopy reaches a block device's SCSI device through /dev/block/MAJ:MIN, which udev makes elsewhere.
block_link() {
  mkdir -p /dev/block
  ln -sf "../${1##*/}" "/dev/block/$(cat "/sys/block/${1##*/}/dev")"
}

# sg_xcopy "$@"; adds the EXTENDED COPY commands it reports ("sg_xcopy: N blocks, M commands") to XCOPIES.
xcopy() {
  sg_xcopy "$@" >/tmp/xcopy.out 2>&1 || { sed 's/^/E2E-LOG /' /tmp/xcopy.out; fail "sg_xcopy $*"; }
  sed 's/^/E2E-LOG /' /tmp/xcopy.out
  n=$(sed -n 's/^sg_xcopy: [0-9]* blocks, \([0-9]*\) commands*$/\1/p' /tmp/xcopy.out)
  [ -n "$n" ] || fail "sg_xcopy $*: no summary line"
  XCOPIES=$((XCOPIES + n))
}

# $1 blocks of $2 bytes of LUN $3's image at block $4 and of LUN $5's at block $6 must match.
same_range() {
  must dd if="/tmp/lun$3.img" of=/tmp/a.bin bs="$2" skip="$4" count="$1"
  must dd if="/tmp/lun$5.img" of=/tmp/b.bin bs="$2" skip="$6" count="$1"
  cmp /tmp/a.bin /tmp/b.bin || fail "LUN $3 @$4 and LUN $5 @$6 ($1 x $2 bytes) differ"
  rm -f /tmp/a.bin /tmp/b.bin
}

# sg_xcopy between LUNs of one target: LUN 0 -> 1 (512-byte blocks), LUN 2 -> 3 (4096-byte blocks).
# The host filled LUNs 0 and 2, counts the EXTENDED COPY commands on the wire and checks the files.
scenario_xcopy() {
  node_new
  login
  for l in 0 1 2 3; do
    d=$(disk_of_lun "$l") || fail "no disk for LUN $l"
    block_link "$d"
    eval "D$l=$d"
  done
  step login
  # sg_vpd decodes VPD 8Fh by descriptor type code: the limits must land under "Parameter data".
  must sg_vpd -p tpc "$D1"
  sed 's/^/E2E-LOG /' /tmp/must.out
  metric vpd_max_cscd "$(sed -n 's/^ *Maximum CSCD descriptor count: //p' /tmp/must.out)"
  metric vpd_descriptors "$(awk '/^ Supported descriptors:/ { on = 1; next } /^ [^ ]/ { on = 0 } on { n++ } END { print n + 0 }' /tmp/must.out)"
  XCOPIES=0
  # Let the relays' counters settle before the host reads them (they refresh every 250 ms).
  sleep 1
  step xcopy-start
  # Whole 4 MiB in one command (default bpt: the target's maximum segment length), CDBs and lists logged.
  xcopy verbose=4 if="$D0" of="$D1" count=8192
  # Offsets (the destination not 4 KiB-aligned) in 1000-block commands: 5 of them.
  xcopy if="$D0" of="$D1" bs=512 bpt=1000 skip=10000 seek=20001 count=5000
  # 4096-byte blocks, the command sent to the source LU: 5 x 256 + 220 blocks.
  xcopy --on_src if="$D2" of="$D3" bs=4096 bpt=256 skip=7 seek=1000 count=1500
  sleep 1
  step xcopy-done
  metric xcopies "$XCOPIES"
  # The last copy's status (LIST ID 1, RECEIVE COPY RESULTS / COPY STATUS).
  must sg_copy_results --status --list_id=1 "$D3"
  sed 's/^/E2E-LOG /' /tmp/must.out
  grep -q 'Copy manager status: Operation completed without errors' /tmp/must.out || fail 'copy status is not "completed"'
  metric status_segments "$(sed -n 's/^ *Segments processed: //p' /tmp/must.out)"
  metric status_bytes "$(sed -n 's/^ *Transfer count: //p' /tmp/must.out)"
  # Whole disks in 1 MiB O_DIRECT reads (a 512-byte read per block is slow under emulation).
  echo 3 > /proc/sys/vm/drop_caches
  l=0
  for d in "$D0" "$D1" "$D2" "$D3"; do
    must dd if="$d" of="/tmp/lun$l.img" bs=1M iflag=direct
    l=$((l + 1))
  done
  same_range 8192 512 0 0 1 0
  same_range 5000 512 0 10000 1 20001
  same_range 1500 4096 2 7 3 1000
  rm -f /tmp/lun?.img
  step compared
  logout
  for DISK in "$D0" "$D1" "$D2" "$D3"; do check_gone; done
}

# $1 MiB of $2 at MiB $3, read with O_DIRECT, must equal MiB $4 of the pattern.
same_as_part() {
  must dd if="$2" of=/tmp/got.bin bs=1M skip="$3" count="$1" iflag=direct
  must dd if=/pattern.bin of=/tmp/want.bin bs=1M skip="$4" count="$1"
  cmp /tmp/want.bin /tmp/got.bin || fail "$2 @${3}MiB differs from pattern part $4"
  rm -f /tmp/got.bin /tmp/want.bin
}

# MiB $2 of the pattern to $1 at MiB $3 (O_DIRECT), then read back.
write_part() {
  must dd if=/pattern.bin of="$1" bs=1M skip="$2" seek="$3" count=1 oflag=direct conv=fsync
  same_as_part 1 "$1" "$3" "$2"
}

# The kernel lines the unit attentions leave (drivers/scsi/scsi_error.c, scsi_report_sense) and the
# one a rescan that finds a new size leaves (block/genhd.c); the host counts them.
UA_LINES='Capacity data has changed|LUN assignments on this target have changed|Power-on or device reset occurred|detected capacity change'

# Online resize and LUN add (the host reloads Scatter's config with SIGHUP). The pattern has three
# 1 MiB parts: 0 goes to LUN 0's last MiB before the resize, 1 to its last MiB after, 2 to LUN 1.
scenario_resize() {
  node_new
  login
  D0=$(disk_of_lun 0) || fail 'no disk for LUN 0'
  step login
  size=$(blockdev --getsize64 "$D0")
  [ "$size" = "$OLD_BYTES" ] || fail "LUN 0 is $size bytes, not $OLD_BYTES"
  old_mib=$((OLD_BYTES / 1048576))
  new_mib=$((NEW_BYTES / 1048576))
  write_part "$D0" 0 $((old_mib - 1))
  step written
  # The host now grows LUN 0 and adds LUN 1 (SIGHUP); nothing tells us when but the next command's
  # unit attention, so read a block now and then until the kernel has logged it.
  i=0
  while ! dmesg | grep -q 'Capacity data has changed'; do
    [ $i -lt 120 ] || fail 'no CAPACITY DATA HAS CHANGED unit attention within 60 s'
    must dd if="$D0" of=/dev/null bs=4k count=1 iflag=direct
    sleep 0.5
    i=$((i + 1))
  done
  step attention
  dmesg | grep -q 'LUN assignments on this target have changed' || fail 'no REPORTED LUNS DATA HAS CHANGED unit attention'
  # Told, not resized: the kernel keeps the old capacity until asked to look again.
  metric size_before_rescan "$(blockdev --getsize64 "$D0")"
  echo 1 > "/sys/block/${D0##*/}/device/rescan"
  size=$(blockdev --getsize64 "$D0")
  metric size_after_rescan "$size"
  [ "$size" = "$NEW_BYTES" ] || fail "LUN 0 is $size bytes after the rescan, not $NEW_BYTES"
  step rescan
  echo 3 > /proc/sys/vm/drop_caches
  same_as_part 1 "$D0" $((old_mib - 1)) 0
  # The grown part reads as zeros and takes a write at its end.
  must dd if="$D0" of=/tmp/grown.bin bs=1M skip="$old_mib" iflag=direct
  head -c $(((new_mib - old_mib) * 1048576)) /dev/zero | cmp - /tmp/grown.bin || fail 'the grown part is not zeros'
  rm -f /tmp/grown.bin
  write_part "$D0" 1 $((new_mib - 1))
  step grown
  # The new LUN: a session rescan (REPORT LUNS) makes its disk.
  must iscsiadm -m session -R
  D1=$(disk_of_lun 1) || fail 'no disk for LUN 1 after the session rescan'
  size=$(blockdev --getsize64 "$D1")
  metric lun1_bytes "$size"
  [ "$size" = "$LUN1_BYTES" ] || fail "LUN 1 is $size bytes, not $LUN1_BYTES"
  write_part "$D1" 2 $((LUN1_BYTES / 1048576 / 2))
  step added
  dmesg | grep -E "$UA_LINES" | while read -r line; do echo "E2E-DMESG $line"; done
  logout
  for DISK in "$D0" "$D1"; do check_gone; done
}

# ACLs: this initiator is allowed to see target LUN 1 only, as its LUN 0. Then the host removes its
# ACL through the admin API: the target asks for a logout and ends the session, and logging in
# again is refused, so no session may be logged in any more.
scenario_acl() {
  node_new
  login
  D0=$(disk_of_lun 0) || fail 'no disk for the mapped LUN 0'
  size=$(blockdev --getsize64 "$D0")
  metric mapped_bytes "$size"
  [ "$size" = "$MAPPED_BYTES" ] || fail "LUN 0 is $size bytes, not the mapped LUN's $MAPPED_BYTES"
  luns=$(ls -d /sys/class/iscsi_session/session*/device/target*/*:*:*:* | wc -l)
  metric luns "$luns"
  [ "$luns" = 1 ] || fail "$luns LUNs visible, not 1"
  must dd if=/pattern.bin of="$D0" bs=1M oflag=direct conv=fsync
  step mapped
  i=0
  while grep -qs LOGGED_IN /sys/class/iscsi_session/session*/state; do
    [ $i -lt 120 ] || fail 'still logged in 60 s after the ACL was removed'
    sleep 0.5
    i=$((i + 1))
  done
  step ended
  iscsiadm -m node -T "$IQN" -p "$PORTAL" --logout >/dev/null 2>&1 || true
}

# --- multipath (multipath.e2e.ts): two cluster nodes, one LU, dm-multipath with ALUA -----------

# The disk of the session logged in to portal $1 (address:port); empty if none yet.
disk_of_portal() {
  for s in /sys/class/iscsi_session/session*; do
    [ -e "$s" ] || continue
    n=${s##*session}
    c=/sys/class/iscsi_connection/connection$n:0
    [ "$(cat "$c/persistent_address" 2>/dev/null):$(cat "$c/persistent_port" 2>/dev/null)" = "$1" ] || continue
    for b in "$s"/device/target*/*/block/*; do
      if [ -e "$b" ] && [ -b "/dev/${b##*/}" ]; then echo "${b##*/}"; return 0; fi
    done
  done
}

# `multipath -ll` once into /tmp/mpll (multipath reads dm's tables and runs the checkers itself).
mpll() { DM_DISABLE_UDEV=1 multipath -ll > /tmp/mpll 2>&1; }

# "prio=N status=S" of the path group that holds disk $1, then that path's own line, from /tmp/mpll.
group_of() { awk -v d=" $1 " '/policy=/ { g = $0 } index($0, d) { sub(/.*prio=/, "prio=", g); print g; exit }' /tmp/mpll; }
path_of() { grep " $1 " /tmp/mpll; }
prio_of() { group_of "$1" | sed -n 's/^prio=\([0-9]*\) .*/\1/p'; }
log_mpll() { sed "s/^/E2E-LOG $1: /" /tmp/mpll; }

# Numbered 16 KiB files, each a slice of the pattern chosen by its number, written with fsync; each
# acknowledged one is logged with the time of the acknowledgement. Runs until /tmp/stop exists.
writer() {
  n=$1
  while [ ! -e /tmp/stop ]; do
    if ! dd if=/pattern.bin of="/mnt/load/f$n" bs=4096 skip=$(((n * 4) % 1020)) count=4 conv=fsync 2>/tmp/writer.err; then
      echo "$n $(now) ERR" >> /tmp/acks
      exit 1
    fi
    echo "$n $(now)" >> /tmp/acks
    n=$((n + 1))
  done
}

acked() { awk '!/ERR/ { c++ } END { print c + 0 }' /tmp/acks; }

# Waits (bounded, $2 tenths of a second) until at least $1 writes are acknowledged in all.
wait_acks() {
  i=0
  while [ "$(acked)" -lt "$1" ]; do
    grep -q ERR /tmp/acks && { sed 's/^/E2E-LOG writer: /' /tmp/writer.err; fail "a write failed: $(grep ERR /tmp/acks)"; }
    [ $i -lt "$2" ] || fail "only $(acked) of $1 writes acknowledged"
    sleep 0.1
    i=$((i + 1))
  done
}

start_load() { rm -f /tmp/stop; writer "$1" & WRITER=$!; }

stop_load() {
  touch /tmp/stop
  wait "$WRITER" || { sed 's/^/E2E-LOG writer: /' /tmp/writer.err; fail "the writer failed: $(grep ERR /tmp/acks)"; }
}

# The longest gap between two acknowledgements from line $1 on (acks file), as "seconds after-n".
longest_gap() {
  tail -n "+$1" /tmp/acks | awk 'NR > 1 && $2 - t > g { g = $2 - t; n = $1 } { t = $2 } END { printf "%.2f %d\n", g, n }'
}

scenario_multipath() {
  for m in $(cat /etc/modules.extra); do insmod "/lib/modules/$m.ko" || fail "insmod $m"; done
  step dm-modules
  # One node record per portal; the portal group tag is the node's port group.
  must iscsiadm -m node -o new -T "$IQN" -p "$PORTAL_A,1"
  must iscsiadm -m node -o new -T "$IQN" -p "$PORTAL_B,2"
  must iscsiadm -m node -T "$IQN" -p "$PORTAL_A" --login
  must iscsiadm -m node -T "$IQN" -p "$PORTAL_B" --login
  i=0
  while [ -z "$(disk_of_portal "$PORTAL_A")" ] || [ -z "$(disk_of_portal "$PORTAL_B")" ]; do
    [ $i -lt 200 ] || fail 'the two disks did not appear after login'
    sleep 0.1
    i=$((i + 1))
  done
  DA=$(disk_of_portal "$PORTAL_A")
  DB=$(disk_of_portal "$PORTAL_B")
  SA=$(basename "$(dirname "$(dirname "$(readlink -f /sys/block/$DA/device)")")")
  SB=$(basename "$(dirname "$(dirname "$(readlink -f /sys/block/$DB/device)")")")
  echo "E2E-LOG node a path $DA ($(cat /sys/block/$DA/dev)) $SA, node b path $DB ($(cat /sys/block/$DB/dev)) $SB"
  for d in $DA $DB; do echo "E2E-LOG $d: dh_state=$(cat /sys/block/$d/device/dh_state 2>/dev/null) access_state=$(cat /sys/block/$d/device/access_state 2>/dev/null) vpd83=$(od -An -tx1 /sys/block/$d/device/vpd_pg83 2>/dev/null | tr -d ' \n' | head -c 80)"; done
  step login

  mkdir -p /etc/multipath
  cat > /etc/multipath.conf <<CONF
defaults {
	user_friendly_names yes
	find_multipaths no
	# No udev in the guest: WWIDs from sysfs (VPD 83h).
	uid_attribute ""
	polling_interval 1
	# Checkers run synchronously: a path's state is known in the tick that checks it, not the next one.
	force_sync yes
	path_grouping_policy group_by_prio
	prio alua
	# Not the kernel's access_state (prio sysfs): ask the target with REPORT TARGET PORT GROUPS.
	detect_prio no
	path_checker tur
	failback immediate
	no_path_retry $NO_PATH_RETRY
	# For iSCSI paths multipathd writes this to the session's recovery_tmo (open-iscsi's
	# replacement_timeout): how long a dead session holds its commands before dm gets them back.
	fast_io_fail_tmo $FAST_IO_FAIL_TMO
	enable_foreign "NONE"
}
CONF
  # No udev in the guest. libudev lists only devices with a udev database entry ("initialized"),
  # so each path gets an empty one; libdevmapper makes the /dev/mapper nodes itself.
  mkdir -p /run/udev/data
  for d in $DA $DB; do echo "I:1" > "/run/udev/data/b$(cat /sys/block/$d/dev)"; done
  export DM_DISABLE_UDEV=1
  multipathd -d -v3 > /tmp/multipathd.log 2>&1 &
  i=0
  while [ ! -b /dev/mapper/mpatha ]; do
    [ $i -lt 300 ] || { sed 's/^/E2E-LOG multipathd: /' /tmp/multipathd.log | tail -60; fail 'multipathd made no /dev/mapper/mpatha'; }
    sleep 0.1
    i=$((i + 1))
  done
  MP=/dev/mapper/mpatha
  # dm calls a path group active once I/O has gone through it.
  must dd if="$MP" of=/dev/null bs=4096 count=1 iflag=direct
  # Both paths checked once: the owner's group active with prio 50 or more, node b's path a ghost.
  i=0
  while :; do
    mpll
    pa=$(prio_of "$DA")
    if [ "${pa:-0}" -ge 50 ] && group_of "$DA" | grep -q 'status=active' && path_of "$DB" | grep -q ghost; then break; fi
    [ $i -lt 100 ] || { log_mpll initial; sed 's/^/E2E-LOG multipathd: /' /tmp/multipathd.log | tail -60; fail "two path groups with $DA active and $DB ghost expected"; }
    sleep 0.2
    i=$((i + 1))
  done
  [ "$(grep -c 'policy=' /tmp/mpll)" = 2 ] || { log_mpll initial; fail 'two path groups expected'; }
  log_mpll initial
  metric initial_prio_a "$pa"
  metric initial_prio_b "$(prio_of "$DB")"
  step multipath

  must /sbin/mke2fs -t ext4 -q -F "$MP"
  must mount -t ext4 "$MP" /mnt
  mkdir /mnt/load
  : > /tmp/acks

  # 1: kill -9 of the owner under the load.
  start_load 0
  wait_acks 20 600
  step load-1
  echo "E2E-LOG clock: uptime $(now) is $(date +%T)"
  # The host kills node a now. Wait for dm to fail node a's path, then for 30 more writes.
  MAJMIN_A=$(cat /sys/block/$DA/dev)
  i=0
  while ! DM_DISABLE_UDEV=1 dmsetup status mpatha | grep -q " $MAJMIN_A F "; do
    [ $i -lt 600 ] || { DM_DISABLE_UDEV=1 dmsetup status mpatha | sed 's/^/E2E-LOG dmsetup: /'; fail "node a's path $DA never failed"; }
    grep -q ERR /tmp/acks && fail "a write failed: $(grep ERR /tmp/acks)"
    sleep 0.1
    i=$((i + 1))
  done
  step path-a-failed
  wait_acks $(($(acked) + 30)) 600
  stop_load
  gap=$(longest_gap 1)
  metric failover_stall_s "${gap% *}"
  awk -v n="${gap#* }" '$1 >= n - 2 && $1 <= n + 1 { print "E2E-LOG ack: " $0 }' /tmp/acks
  metric failover_stall_after_n "${gap#* }"
  metric failover_writes "$(acked)"
  mpll
  log_mpll failed-over
  group_of "$DB" | grep -q 'status=active' || fail "node b's group is not active after the failover"
  step failed-over

  # 2: the host restarts node a; its path must come back as a ghost (standby) path.
  i=0
  while :; do
    mpll
    if path_of "$DA" | grep -q 'active ghost'; then break; fi
    [ $i -lt 600 ] || { log_mpll rejoin; fail "node a's path $DA did not come back as ghost"; }
    sleep 0.2
    i=$((i + 1))
  done
  log_mpll rejoined
  metric rejoin_prio_a "$(prio_of "$DA")"
  metric rejoin_prio_b "$(prio_of "$DB")"
  step rejoined

  # 3: a planned drain back to node a under the load.
  first=$(($(acked) + 1))
  start_load "$(acked)"
  wait_acks $(($(acked) + 20)) 600
  step load-2
  # The host drains to node a now; wait until node a's group is the active one, then 30 more writes.
  i=0
  while :; do
    mpll
    pa=$(prio_of "$DA")
    if [ "${pa:-0}" -ge 50 ] && group_of "$DA" | grep -q 'status=active'; then break; fi
    grep -q ERR /tmp/acks && fail "a write failed: $(grep ERR /tmp/acks)"
    [ $i -lt 300 ] || { log_mpll drain; fail "node a's group did not become active after the drain"; }
    sleep 0.2
    i=$((i + 1))
  done
  step drained
  wait_acks $(($(acked) + 30)) 600
  stop_load
  gap=$(longest_gap "$first")
  metric drain_stall_s "${gap% *}"
  awk -v n="${gap#* }" '$1 >= n - 2 && $1 <= n + 1 { print "E2E-LOG ack: " $0 }' /tmp/acks
  metric drain_stall_after_n "${gap#* }"
  metric total_writes "$(acked)"
  mpll
  log_mpll drained
  step load-done

  # Every acknowledged write is there, byte for byte; fsck is clean.
  sync
  must umount /mnt
  must /sbin/e2fsck -fn "$MP"
  echo 3 > /proc/sys/vm/drop_caches
  must mount -t ext4 -o ro "$MP" /mnt
  bad=0
  while read -r n t; do
    dd if=/pattern.bin bs=4096 skip=$(((n * 4) % 1020)) count=4 2>/dev/null | cmp -s - "/mnt/load/f$n" || { echo "E2E-LOG f$n differs"; bad=$((bad + 1)); }
  done < /tmp/acks
  [ "$bad" = 0 ] || fail "$bad acknowledged files differ"
  metric verified_files "$(acked)"
  must umount /mnt
  if dmesg | grep -E 'EXT4-fs (error|warning)|Buffer I/O error|I/O error, dev dm-'; then fail 'the filesystem saw an error'; fi
  step verified
  echo "E2E-LOG multipathd log (from the load on, paths and map only):"
  sed -n '/tur state = up/,$p' /tmp/multipathd.log | grep -E 'sd[a-z]|mpatha|8:[0-9]' | grep -v -E 'setting: |tur state = (pending|up|ghost)$|reported target port group|aas = ' | sed 's/^/E2E-LOG multipathd: /'
  # What the kernel said about the paths, the sessions and dm (the host checks the sense data).
  dmesg | grep -E '\] +(sd [0-9]+:|device-mapper|session[0-9]|connection[0-9]|I/O error)' | sed 's/^/E2E-LOG kmsg: /'
}

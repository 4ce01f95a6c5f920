#!/bin/busybox sh
# /init of the e2e VM: common set-up, then the scenario named in /run.env.
# Every line the host reads starts with E2E-: STEP (progress), METRIC, DMESG,
# LOG, and one closing RESULT line per scenario.
/bin/busybox --install -s /bin
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
. /run.env

now() { cut -d' ' -f1 /proc/uptime; }
step() { echo "E2E-STEP $1 $(now)"; }
metric() { echo "E2E-METRIC $1 $2"; }

# Kernel messages that mean trouble; the host decides which ones a scenario tolerates.
report_dmesg() {
  # A kernel warning is reported with its whole context (the line before names the culprit).
  if dmesg | grep -q -E 'WARNING|BUG'; then dmesg | sed 's/^/E2E-KMSG /'; fi
  dmesg | grep -E 'error|Error|ERROR|FAILED|Sense Key|blk_update_request|I/O|Call Trace|BUG|WARNING|timed out|conn error' |
    grep -v -E 'Unknown symbol' | while read -r line; do echo "E2E-DMESG $line"; done
}

finish() {
  report_dmesg
  echo "E2E-RESULT $SCENARIO $1 $2"
  sync
  reboot -f
  sleep 10
}

fail() {
  echo "E2E-LOG iscsid log:"
  sed 's/^/E2E-LOG /' /tmp/iscsid.log 2>/dev/null | tail -40
  finish fail "$*"
}

must() { "$@" >/tmp/must.out 2>&1 || { sed 's/^/E2E-LOG /' /tmp/must.out; fail "$*"; }; }

step boot
for m in $(cat /etc/modules.order); do
  insmod "/lib/modules/$m.ko" || fail "insmod $m"
done
step modules

ip link set lo up
ip link set eth0 up || fail 'no eth0'
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2

# iscsid checks that its peer (iscsiadm) runs as root by name.
echo 'root:x:0:0:root:/:/bin/sh' > /etc/passwd
echo 'root:x:0:' > /etc/group

# The initiator: iscsid with a fixed name; settings the host chose in /run.env.
echo "InitiatorName=$INITIATOR" > /etc/iscsi/initiatorname.iscsi
cat > /etc/iscsi/iscsid.conf <<CONF
iscsid.startup = /bin/false
node.startup = manual
node.session.timeo.replacement_timeout = ${REPLACEMENT_TIMEOUT:-120}
node.conn[0].timeo.login_timeout = 15
node.conn[0].timeo.logout_timeout = 15
node.conn[0].timeo.noop_out_interval = 5
node.conn[0].timeo.noop_out_timeout = 5
node.session.err_timeo.abort_timeout = 15
node.session.err_timeo.lu_reset_timeout = 30
node.session.initial_login_retry_max = 4
node.session.cmds_max = 128
node.session.queue_depth = 32
node.session.iscsi.InitialR2T = No
node.session.iscsi.ImmediateData = Yes
node.session.iscsi.FirstBurstLength = 262144
node.session.iscsi.MaxBurstLength = 16776192
node.conn[0].iscsi.MaxRecvDataSegmentLength = 262144
node.conn[0].iscsi.HeaderDigest = ${DIGEST:-CRC32C}
node.conn[0].iscsi.DataDigest = ${DIGEST:-CRC32C}
# Kernel autotuning: a fixed 512 KiB receive buffer stalls behind slirp now and then.
node.conn[0].tcp.window_size = 0
CONF
/sbin/iscsid -f > /tmp/iscsid.log 2>&1 &
sleep 0.2
step iscsid

PORTAL=10.0.2.100:3260
. /scenarios.sh
"scenario_$SCENARIO"
finish pass ok

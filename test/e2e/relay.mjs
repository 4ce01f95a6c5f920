// Started by QEMU's slirp (guestfwd ...-cmd:) once per guest connection, with
// stdin/stdout/stderr all on one socket to the guest. Connects to
// 127.0.0.1:<port read from argv[2]> and nothing else, and copies both ways.
// Writes nothing of its own to stdio: that would go to the guest.
// argv[3] (optional) is a directory where it keeps a file named by its pid with
// the bytes relayed each way (every 250 ms), so a test can count idle traffic,
// and send SIGUSR1 to cut the guest side while the target's side stays open.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { join } from 'node:path';
import { setInterval } from 'node:timers';
import { createTap, newTapState } from './pdu-tap.mjs';

const port = Number(readFileSync(process.argv[2], 'utf8').trim());
const pidDir = process.argv[3];
const pidFile = pidDir ? join(pidDir, String(process.pid)) : undefined;
const counts = { toTarget: 0, toGuest: 0, pdusToTarget: {}, pdusToGuest: {}, cdbsToTarget: {} };
const tap = newTapState();
const tapToTarget = createTap(tap, counts.pdusToTarget, false, counts.cdbsToTarget);
const tapToGuest = createTap(tap, counts.pdusToGuest, true);
// Written aside and renamed, so a reader never sees a half-written file.
const record = () => {
  if (!pidFile) return;
  writeFileSync(`${pidDir}/.${process.pid}`, JSON.stringify(counts));
  renameSync(`${pidDir}/.${process.pid}`, pidFile);
};
record();
setInterval(record, 250).unref();

const guest = new Socket({ fd: 0, readable: true, writable: true });
const target = connect({ host: '127.0.0.1', port, noDelay: true });
// No Nagle: a small PDU waiting behind a delayed ACK costs ~40 ms per WRITE.
target.setNoDelay(true);

const done = () => {
  if (pidFile) rmSync(pidFile, { force: true });
  process.exit(0);
};
guest.pipe(target);
target.pipe(guest);
guest.on('data', (c) => {
  counts.toTarget += c.length;
  tapToTarget(c);
});
target.on('data', (c) => {
  counts.toGuest += c.length;
  tapToGuest(c);
});
guest.on('error', () => target.destroy());
target.on('error', () => guest.destroy());
guest.on('close', () => target.destroy());
target.on('close', () => {
  guest.destroy();
  done();
});
process.on('SIGUSR1', () => {
  // The guest loses its connection; the target keeps a half-dead one, as after a cable cut.
  guest.unpipe(target);
  target.unpipe(guest);
  guest.removeAllListeners('close');
  guest.destroy();
  target.pause();
});
process.on('SIGTERM', done);

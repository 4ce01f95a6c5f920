/**
 * Connection keepalive (NOP-In pings) and the stall watchdog on injected timers and clock, over a
 * real TCP socket pair: time moves only when the test says so, so nothing here sleeps.
 */
import net from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection, type ConnectionDeadlines, type PduHandler } from '../../../src/iscsi/connection.js';
import { PduFramer } from '../../../src/iscsi/framer.js';
import { Op, RESERVED_TAG } from '../../../src/iscsi/opcodes.js';
import { encodeNopIn, opcodeOf, type InPdu } from '../../../src/iscsi/pdu.js';
import { nopOut } from '../../helpers/initiator-pdus.js';
import { waitUntil } from '../../helpers/wait.js';

/** setTimeout / clearTimeout and a clock that advance only when told to. */
class ManualTimers {
  now = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();

  readonly setTimeout = ((fn: () => void, ms: number) => {
    const id = ++this.seq;
    this.due.set(id, { at: this.now + ms, fn });
    return { id, unref: () => undefined } as unknown as ReturnType<typeof setTimeout>;
  }) as unknown as typeof setTimeout;

  readonly clearTimeout = ((handle: { id: number } | undefined) => {
    if (handle) this.due.delete(handle.id);
  }) as unknown as typeof clearTimeout;

  /** Move the clock forward, running every timer that falls due on the way, in order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.due) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.due.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = end;
  }
}

/** The initiator's end of the socket: every PDU the target sends, and a way to wait for the next. */
class Peer {
  readonly received: InPdu[] = [];
  private waiters: ((p: InPdu) => void)[] = [];
  closed = false;
  private readonly closedPromise: Promise<void>;

  constructor(readonly socket: net.Socket) {
    const framer = new PduFramer(
      { headerDigest: false, dataDigest: false, maxDataSegmentLength: 1 << 20 },
      {
        onPdu: (p) => {
          this.received.push(p);
          this.waiters.shift()?.(p);
        },
        onFault: () => socket.destroy(),
      },
    );
    socket.on('data', (c: Buffer) => framer.push(c));
    this.closedPromise = new Promise((resolve) => socket.on('close', () => ((this.closed = true), resolve())));
  }

  next(): Promise<InPdu> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  /** A NOP-Out with a real ITT: the handler echoes it, so its echo proves all earlier PDUs arrived. */
  async roundTrip(itt: number): Promise<InPdu[]> {
    const before = this.received.length;
    const echo = this.until((p) => opcodeOf(p.bhs) === Op.NOP_IN && p.bhs.readUInt32BE(16) === itt);
    this.socket.write(nopOut({ immediate: true, itt, ttt: RESERVED_TAG, cmdSN: 1, expStatSN: 0, dataLength: 0 }));
    await echo;
    return this.received.slice(before, -1);
  }

  async until(match: (p: InPdu) => boolean): Promise<InPdu> {
    for (;;) {
      const p = await this.next();
      if (match(p)) return p;
    }
  }
}

/** Echoes every NOP-Out with a NOP-In of the same ITT; remembers why the connection closed. */
class EchoHandler implements PduHandler {
  closedWith: string | undefined;
  conn!: Connection;
  handlePdu(pdu: InPdu): void {
    if (opcodeOf(pdu.bhs) !== Op.NOP_OUT) return;
    this.conn.send(encodeNopIn({ lun: 0, itt: pdu.bhs.readUInt32BE(16), ttt: RESERVED_TAG, statSN: 0, expCmdSN: 0, maxCmdSN: 0, dataLength: 0 }));
  }
  onConnectionClosed(reason: string): void {
    this.closedWith = reason;
  }
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function pair(opts: { deadlines?: ConnectionDeadlines; fullFeature?: boolean } = {}): Promise<{ conn: Connection; peer: Peer; timers: ManualTimers; handler: EchoHandler }> {
  const timers = new ManualTimers();
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const socket = await accepted;
  cleanups.push(() => {
    client.destroy();
    socket.destroy();
    server.close();
  });
  const conn = new Connection(socket, pino({ level: 'silent' }), {
    nopInInterval: 5,
    nopInTimeout: 3,
    sendHighWater: 1 << 20,
    timers,
    now: () => timers.now,
    deadlines: opts.deadlines,
  });
  const handler = new EchoHandler();
  handler.conn = conn;
  conn.setHandler(handler);
  if (opts.fullFeature ?? true) conn.enterFullFeature({ headerDigest: false, dataDigest: false }, 8192);
  return { conn, peer: new Peer(client), timers, handler };
}

const isPing = (p: InPdu): boolean => opcodeOf(p.bhs) === Op.NOP_IN && p.bhs.readUInt32BE(16) === RESERVED_TAG;

describe('NOP-In keepalive', () => {
  it('pings a quiet connection after nopInInterval and drops it when the ping goes unanswered for nopInTimeout', async () => {
    const { conn, peer, timers, handler } = await pair();
    const ping = peer.next();
    timers.advance(5000);
    const p = await ping;
    expect(isPing(p)).toBe(true);
    expect(p.bhs.readUInt32BE(20)).not.toBe(RESERVED_TAG); // a TTT the answer must echo
    timers.advance(2999);
    expect(conn.isClosed).toBe(false);
    timers.advance(1);
    expect(conn.isClosed).toBe(true);
    expect(handler.closedWith).toBe('NOP-In timeout');
    await peer.whenClosed();
  });

  it('keeps a connection that answers, and pings it again after the next quiet interval', async () => {
    const { conn, peer, timers } = await pair();
    const ping = peer.next();
    timers.advance(5000);
    const p = await ping;
    expect(isPing(p)).toBe(true);
    // The answer: ITT 0xffffffff and our TTT. The echo of a later NOP-Out proves it was read.
    peer.socket.write(nopOut({ immediate: true, itt: RESERVED_TAG, ttt: p.bhs.readUInt32BE(20), cmdSN: 1, expStatSN: 0, dataLength: 0 }));
    await peer.roundTrip(2);
    timers.advance(3000);
    expect(conn.isClosed).toBe(false);
    const second = peer.next();
    timers.advance(2000);
    const p2 = await second;
    expect(isPing(p2)).toBe(true);
    expect(p2.bhs.readUInt32BE(20)).not.toBe(p.bhs.readUInt32BE(20));
    expect(conn.isClosed).toBe(false);
  });

  it('does not ping while traffic flows', async () => {
    const { conn, peer, timers } = await pair();
    for (let i = 0; i < 5; i++) {
      timers.advance(4000);
      expect((await peer.roundTrip(10 + i)).filter(isPing)).toEqual([]);
    }
    expect(conn.isClosed).toBe(false);
  });

  it('does not ping before full feature phase', async () => {
    const { conn, peer, timers } = await pair({ fullFeature: false });
    timers.advance(60_000);
    expect((await peer.roundTrip(3)).filter(isPing)).toEqual([]);
    expect(conn.isClosed).toBe(false);
  });
});

describe('connection watchdog', () => {
  const deadlines: ConnectionDeadlines = { firstPduMs: 1000, pduMs: 2000, sendStallMs: 10_000 };

  it('drops a connection that sends no Login Request within firstPduMs', async () => {
    const { conn, peer, timers, handler } = await pair({ deadlines, fullFeature: false });
    timers.advance(999);
    expect(conn.isClosed).toBe(false);
    timers.advance(250); // the next tick after the deadline
    expect(handler.closedWith).toBe('no login request in time');
    await peer.whenClosed();
  });

  it('drops a connection whose PDU starts but does not finish within pduMs', async () => {
    const { conn, peer, timers, handler } = await pair({ deadlines, fullFeature: false });
    await peer.roundTrip(4); // one complete PDU: the first-PDU deadline is met
    peer.socket.write(nopOut({ immediate: true, itt: 5, ttt: RESERVED_TAG, cmdSN: 1, expStatSN: 0, dataLength: 0 }).subarray(0, 20));
    await waitUntil(() => conn.framer.midPdu, 'the target has the first bytes of the PDU');
    timers.advance(1999);
    expect(conn.isClosed).toBe(false);
    timers.advance(1000);
    expect(handler.closedWith).toBe('PDU not completed in time');
    await peer.whenClosed();
  });
});

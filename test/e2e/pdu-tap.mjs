// Counts iSCSI PDUs by opcode in one relayed direction, for tests that must
// tell NOP pings from SCSI traffic. Only headers (and login responses) are
// kept; data segments are skipped without copying. Digests (4 bytes after the
// header and after the padded data) apply from the first PDU after the login's
// final response, as the login responses negotiated them.

/** Shared by both directions of one connection. */
export function newTapState() {
  return { digests: { header: false, data: false }, negotiated: { header: false, data: false } };
}

function count(counts, key) {
  counts[key] = (counts[key] ?? 0) + 1;
}

/**
 * Records `counts[opcode hex]` per PDU, and NOP pings split out by their tags. With `cdbCounts`,
 * also `cdbCounts[CDB opcode hex]` per SCSI Command PDU (CDB byte 0 is BHS byte 32), so a test
 * can tell which SCSI commands really crossed the wire.
 */
export function createTap(state, counts, fromTarget, cdbCounts) {
  let head = Buffer.alloc(0); // the current PDU's header, or a whole login response
  let want = 48; // bytes `head` must reach before it is parsed
  let skip = 0; // bytes of the current PDU to pass over
  const parse = () => {
    const op = head[0] & 0x3f;
    const ahs = head[4] * 4;
    const dataLen = head.readUIntBE(5, 3);
    const padded = (dataLen + 3) & ~3;
    const rest = ahs + (state.digests.header ? 4 : 0) + padded + (dataLen > 0 && state.digests.data ? 4 : 0);
    if (fromTarget && op === 0x23 && head.length === 48 && rest > 0) {
      want = 48 + rest; // keep the login response's text
      return;
    }
    count(counts, op.toString(16).padStart(2, '0'));
    if (cdbCounts && op === 0x01) count(cdbCounts, head[32].toString(16).padStart(2, '0'));
    if (op === 0x20 && head.readUInt32BE(20) !== 0xffffffff) count(counts, 'targetPings');
    if (op === 0x00) count(counts, head.readUInt32BE(16) === 0xffffffff ? 'pingAnswers' : 'initiatorPings');
    if (op === 0x23) {
      const text = head.subarray(48 + ahs, 48 + ahs + dataLen).toString('latin1');
      if (/(^|\0)HeaderDigest=CRC32C/.test(text)) state.negotiated.header = true;
      if (/(^|\0)DataDigest=CRC32C/.test(text)) state.negotiated.data = true;
      // Transit to full feature phase (T=1, NSG=3, success): digests start with the next PDU.
      if ((head[1] & 0x80) !== 0 && (head[1] & 0x03) === 3 && head[36] === 0) state.digests = { ...state.negotiated };
      skip = 0;
    } else {
      skip = rest;
    }
    head = Buffer.alloc(0);
    want = 48;
  };
  return (chunk) => {
    let at = 0;
    while (at < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - at);
        skip -= n;
        at += n;
        continue;
      }
      const n = Math.min(want - head.length, chunk.length - at);
      head = Buffer.concat([head, chunk.subarray(at, at + n)]);
      at += n;
      if (head.length === want) parse();
    }
  };
}

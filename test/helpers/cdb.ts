/** CDB builders for tests (SBC-3 / SPC-4 layouts). */
export function read10(lba: number, blocks: number, flags = 0): Buffer {
  const c = Buffer.alloc(10);
  c[0] = 0x28;
  c[1] = flags;
  c.writeUInt32BE(lba, 2);
  c.writeUInt16BE(blocks, 7);
  return c;
}

export function write10(lba: number, blocks: number, flags = 0): Buffer {
  const c = read10(lba, blocks, flags);
  c[0] = 0x2a;
  return c;
}

export function read16(lba: number, blocks: number): Buffer {
  const c = Buffer.alloc(16);
  c[0] = 0x88;
  c.writeBigUInt64BE(BigInt(lba), 2);
  c.writeUInt32BE(blocks, 10);
  return c;
}

export function write16(lba: number, blocks: number, flags = 0): Buffer {
  const c = read16(lba, blocks);
  c[0] = 0x8a;
  c[1] = flags;
  return c;
}

export function inquiry(allocation: number, evpd = false, page = 0): Buffer {
  const c = Buffer.alloc(6);
  c[0] = 0x12;
  c[1] = evpd ? 1 : 0;
  c[2] = page;
  c.writeUInt16BE(allocation, 3);
  return c;
}

export function testUnitReady(): Buffer {
  return Buffer.alloc(6);
}

export function readCapacity16(allocation = 32): Buffer {
  const c = Buffer.alloc(16);
  c[0] = 0x9e;
  c[1] = 0x10;
  c.writeUInt32BE(allocation, 10);
  return c;
}

export function reportLuns(allocation = 4096): Buffer {
  const c = Buffer.alloc(12);
  c[0] = 0xa0;
  c.writeUInt32BE(allocation, 6);
  return c;
}

export function requestSense(allocation = 252): Buffer {
  const c = Buffer.alloc(6);
  c[0] = 0x03;
  c[4] = allocation;
  return c;
}

/** Sense key, ASC, ASCQ from fixed or descriptor sense. */
export function senseCodes(sense: Buffer | undefined): [number, number, number] | undefined {
  if (!sense || sense.length < 3) return undefined;
  const code = sense[0]! & 0x7f;
  if (code === 0x72 || code === 0x73) return [sense[1]! & 0x0f, sense[2]!, sense[3]!];
  return [sense[2]! & 0x0f, sense[12]!, sense[13]!];
}

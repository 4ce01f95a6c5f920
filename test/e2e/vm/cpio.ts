/**
 * A minimal writer for the "newc" cpio format the kernel unpacks as an initramfs.
 * Written here so the VM recipe needs no cpio binary; entries are deterministic
 * (mtime 0, uid 0) so the same recipe gives the same bytes.
 */
export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Uint8Array; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(ino: number, mode: number, size: number, name: string, rdev: [number, number] = [0, 0]): Buffer {
  const nameBytes = Buffer.from(`${name}\0`);
  const fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
  const head = Buffer.from(`070701${fields.map(hex8).join('')}`, 'ascii');
  return Buffer.concat([head, nameBytes, Buffer.alloc(pad4(head.length + nameBytes.length))]);
}

/** Serialises entries (paths without a leading slash) followed by the TRAILER!!! record. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '');
    switch (e.kind) {
      case 'dir':
        parts.push(header(ino++, S_IFDIR | (e.mode ?? 0o755), 0, path));
        break;
      case 'chardev':
        parts.push(header(ino++, S_IFCHR | (e.mode ?? 0o600), 0, path, [e.major, e.minor]));
        break;
      case 'symlink': {
        const data = Buffer.from(e.target);
        parts.push(header(ino++, S_IFLNK | 0o777, data.length, path), data, Buffer.alloc(pad4(data.length)));
        break;
      }
      case 'file':
        parts.push(header(ino++, S_IFREG | (e.mode ?? 0o644), e.data.length, path));
        parts.push(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength), Buffer.alloc(pad4(e.data.length)));
        break;
    }
  }
  parts.push(header(0, 0, 0, 'TRAILER!!!'));
  const out = Buffer.concat(parts);
  // Pad to 512 so a second archive can be appended (the kernel unpacks concatenated archives).
  return Buffer.concat([out, Buffer.alloc((512 - (out.length % 512)) % 512)]);
}

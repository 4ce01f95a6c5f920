/**
 * Native calls for raw block devices: the BLK* ioctls (size, block sizes, discard, zero-out) and
 * fallocate(PUNCH_HOLE) on a device. The range calls run on koffi's worker thread.
 */
import { type KoffiFunc } from 'koffi';
import { fileCalls, PUNCH_HOLE_MODE } from './file-calls.js';
import { available, lastErrno, lazyBinding, SyscallError } from './libc.js';

// Linux <linux/fs.h>: _IO(0x12, n) and _IOR(0x12, 114, size_t); identical on x86_64 and arm64.
const BLKSSZGET = 0x1268;
const BLKDISCARD = 0x1277;
const BLKALIGNOFF = 0x127a;
const BLKPBSZGET = 0x127b;
const BLKZEROOUT = 0x127f;
const BLKGETSIZE64 = 0x80081272;

type TypedArg = Uint32Array | Int32Array | BigUint64Array;

// ioctl is variadic; every request used here takes one pointer, passed as a typed array koffi shares with C.
const blockIoctl = lazyBinding('native block calls', 'libc', (lib) => ({
  ioctl: lib.func('int ioctl(int fd, unsigned long request, void *arg)') as KoffiFunc<(fd: number, request: number, arg: TypedArg) => number>,
}));

/** True when the ioctls and fallocate could be bound. */
export function blockCallsAvailable(): boolean {
  return available(blockIoctl) && available(fileCalls);
}

function ioctl(fd: number, request: number, name: string, arg: TypedArg): void {
  if (blockIoctl().ioctl(fd, request, arg) !== 0) throw new SyscallError(`ioctl(${name})`, lastErrno());
}

export interface BlockGeometry {
  /** Capacity in bytes. */
  readonly size: number;
  readonly logicalBlockSize: number;
  readonly physicalBlockSize: number;
  /** Bytes from the start of the device to the first physical block boundary; -1 when the kernel finds it misaligned. */
  readonly alignmentOffset: number;
}

/** Size and block sizes of the open block device `fd`, as the kernel reports them. */
export function blockGeometry(fd: number): BlockGeometry {
  const size = new BigUint64Array(1);
  ioctl(fd, BLKGETSIZE64, 'BLKGETSIZE64', size);
  const lbs = new Uint32Array(1);
  ioctl(fd, BLKSSZGET, 'BLKSSZGET', lbs);
  const pbs = new Uint32Array(1);
  ioctl(fd, BLKPBSZGET, 'BLKPBSZGET', pbs);
  const align = new Int32Array(1);
  ioctl(fd, BLKALIGNOFF, 'BLKALIGNOFF', align);
  return { size: Number(size[0]), logicalBlockSize: lbs[0]!, physicalBlockSize: pbs[0]!, alignmentOffset: align[0]! };
}

/** Settle a koffi async call that returns 0 or -1 with errno (koffi hands back the worker's errno). */
function settle(name: string, resolve: () => void, reject: (err: Error) => void): (err: unknown, rc: number) => void {
  return (err, rc) => {
    if (err) reject(err instanceof Error ? err : new Error(String(err)));
    else if (rc !== 0) reject(new SyscallError(name, lastErrno()));
    else resolve();
  };
}

/**
 * A range ioctl on koffi's worker thread: zeroing a large range on a disk without WRITE ZEROES
 * writes every block, which must not stall the event loop.
 */
function rangeIoctl(fd: number, request: number, name: string, offset: number, length: number): Promise<void> {
  if (length === 0) return Promise.resolve();
  const { ioctl } = blockIoctl();
  // Kept referenced by the closure until the call is done.
  const range = new BigUint64Array([BigInt(offset), BigInt(length)]);
  return new Promise((resolve, reject) => {
    ioctl.async(fd, request, range, settle(`ioctl(${name})`, resolve, reject));
  });
}

/**
 * fallocate(PUNCH_HOLE) on a block device: the kernel deallocates the range with a
 * write-zeroes-with-unmap request and never falls back to writing zeros, so it either
 * deallocates with zeros guaranteed or fails (EOPNOTSUPP) without touching the range.
 */
export function blkPunchHole(fd: number, offset: number, length: number): Promise<void> {
  if (length === 0) return Promise.resolve();
  const { fallocate } = fileCalls();
  return new Promise((resolve, reject) => {
    fallocate.async(fd, PUNCH_HOLE_MODE, offset, length, settle('fallocate(PUNCH_HOLE)', resolve, reject));
  });
}

/** BLKDISCARD [offset, offset + length): the device may deallocate the range. */
export function blkDiscard(fd: number, offset: number, length: number): Promise<void> {
  return rangeIoctl(fd, BLKDISCARD, 'BLKDISCARD', offset, length);
}

/** BLKZEROOUT [offset, offset + length): the range reads as zeros afterwards. */
export function blkZeroOut(fd: number, offset: number, length: number): Promise<void> {
  return rangeIoctl(fd, BLKZEROOUT, 'BLKZEROOUT', offset, length);
}

import type { SgVector } from '../block/sg.js';

/**
 * The first `length` bytes of a Data-Out vector, or undefined when fewer came (the handler then
 * answers DATA PHASE ERROR): the vector itself when it is exactly that long.
 */
export function dataOutVector(dataOut: SgVector | undefined, length: number): SgVector | undefined {
  if (!dataOut || dataOut.length < length) return undefined;
  return dataOut.length === length ? dataOut : dataOut.slice(0, length);
}

/** The same as one buffer (a parameter list, a block to compare): a view when it is one segment. */
export function dataOutBuffer(dataOut: SgVector | undefined, length: number): Buffer | undefined {
  return dataOutVector(dataOut, length)?.toBuffer();
}

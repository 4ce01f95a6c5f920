/** Types for pdu-tap.mjs (plain JS so the relay starts without a TypeScript loader). */
export interface TapState {
  digests: { header: boolean; data: boolean };
  negotiated: { header: boolean; data: boolean };
}
export function newTapState(): TapState;
export function createTap(
  state: TapState,
  counts: Record<string, number>,
  fromTarget: boolean,
  cdbCounts?: Record<string, number>,
): (chunk: Buffer) => void;

import type { TextAccumulator, TextPair } from './text.js';

export type TextRound = { ok: true; pairs?: TextPair[] } | { ok: false; error: string };

/**
 * Feed one Login/Text PDU's data: `pairs` is undefined while the initiator continues (C bit);
 * malformed text or a key given twice in one request fails the round.
 */
export function readTextRound(acc: TextAccumulator, data: Buffer, continueBit: boolean): TextRound {
  const r = acc.push(data, continueBit);
  if (r.status === 'partial') return { ok: true };
  if (r.status === 'overflow') return { ok: false, error: r.error.message };
  const { pairs, errors, duplicates } = r.result;
  if (errors.length > 0) return { ok: false, error: `malformed text: ${errors[0]!.message}` };
  if (duplicates.length > 0) return { ok: false, error: `key sent twice: ${duplicates.join(', ')}` };
  return { ok: true, pairs };
}

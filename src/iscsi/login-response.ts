/**
 * Login Responses longer than the initiator can take in one PDU (RFC 7143 §11.13.2 and §6.1):
 * the text goes out in pieces with C=1 (and T=0) on all but the last, each piece sent when the
 * initiator asks for it with an empty Login Request. What the response decides (a stage
 * transit, the end of login) only takes effect with the last piece.
 */
import { splitTextResponse } from './text.js';

/**
 * RFC 7143 §13.12 / §6.1: during login a PDU carries at most the default MaxRecvDataSegmentLength,
 * 8192 bytes; a value declared in the login takes effect with full feature phase. A smaller
 * declared value is honoured already, because a shorter segment is always acceptable and an
 * initiator that applies its own declaration early must not be overrun.
 */
export const LOGIN_MAX_SEGMENT = 8192;

export function loginSegmentLimit(initiatorDeclared: number): number {
  return Math.max(1, Math.min(LOGIN_MAX_SEGMENT, initiatorDeclared));
}

/** What the complete response does once its last piece is out. */
export type LoginResponseEffect =
  | { readonly kind: 'stay' }
  | { readonly kind: 'transit'; readonly nsg: number }
  | { readonly kind: 'complete' };

/** The rest of a response that did not fit one PDU. */
export class ContinuedLoginResponse {
  private next = 1;

  private constructor(
    private readonly chunks: readonly Buffer[],
    readonly effect: LoginResponseEffect,
  ) {}

  /**
   * Split `data` at `limit`. Returns the first piece and, when more follow, the continuation
   * that hands out the rest (undefined when the response fits one PDU).
   */
  static split(
    data: Buffer,
    limit: number,
    effect: LoginResponseEffect,
  ): { first: Buffer; rest: ContinuedLoginResponse | undefined } {
    const chunks = splitTextResponse(data, limit);
    const first = chunks[0] ?? Buffer.alloc(0);
    return { first, rest: chunks.length > 1 ? new ContinuedLoginResponse(chunks, effect) : undefined };
  }

  /** The next piece; `last` is true for the piece that ends the response (sent with C=0). */
  take(): { data: Buffer; last: boolean } {
    const data = this.chunks[this.next] ?? Buffer.alloc(0);
    this.next++;
    return { data, last: this.next >= this.chunks.length };
  }
}

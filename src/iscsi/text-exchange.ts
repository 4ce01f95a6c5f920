import { RESERVED_TAG, RejectReason } from './opcodes.js';
import type { InPdu, TextRequestPdu } from './pdu.js';
import { TextAccumulator, encodeTextPairs, splitTextResponse, type TextPair } from './text.js';
import { readTextRound } from './text-round.js';

/** What a text exchange needs from its session. */
export interface TextExchangeHost {
  /** Send one Text Response PDU. */
  sendText(req: TextRequestPdu, data: Buffer, f: { final: boolean; cont: boolean; ttt: number }): void;
  reject(reason: number, bhs: Buffer): void;
  /** The answer to a complete request (every key answered). */
  answer(pairs: TextPair[]): TextPair[];
  /** The initiator's MaxRecvDataSegmentLength: no response PDU may carry more. */
  readonly maxSegment: number;
  allocTtt(): number;
}

/**
 * The Text Request / Response exchange of a full-feature session (RFC 7143 §11.10, §11.11): a request
 * may span several PDUs (C bit; the target acknowledges each with an empty response carrying a Target
 * Transfer Tag, which the next request PDU must echo), and a response longer than the initiator's
 * MaxRecvDataSegmentLength is sent in pieces, each fetched by an empty request with our TTT. A request
 * with TTT 0xffffffff starts a new exchange and drops whatever one was under way.
 */
export class TextExchange {
  private readonly incoming = new TextAccumulator();
  /** TTT the next PDU of a continued request must carry. */
  private receivingTtt: number | undefined;
  private outgoing: { ttt: number; chunks: Buffer[]; index: number } | undefined;

  constructor(private readonly host: TextExchangeHost) {}

  handle(req: TextRequestPdu, pdu: InPdu): void {
    if (req.ttt === RESERVED_TAG) {
      this.reset();
      this.receive(req, pdu);
      return;
    }
    if (this.receivingTtt !== undefined && req.ttt === this.receivingTtt) {
      this.receive(req, pdu);
      return;
    }
    if (this.outgoing && req.ttt === this.outgoing.ttt && pdu.data.length === 0 && !req.cont) {
      this.sendNextChunk(req);
      return;
    }
    // A TTT we did not hand out (or data where only an empty request may continue our response).
    this.reset();
    this.host.reject(RejectReason.INVALID_PDU_FIELD, pdu.bhs);
  }

  private receive(req: TextRequestPdu, pdu: InPdu): void {
    const round = readTextRound(this.incoming, pdu.data.toBuffer(), req.cont);
    if (!round.ok) {
      this.reset();
      this.host.reject(RejectReason.PROTOCOL_ERROR, pdu.bhs);
      return;
    }
    if (round.pairs === undefined) {
      // More of the request follows: acknowledge with an empty response whose TTT the next PDU echoes.
      this.receivingTtt = this.host.allocTtt();
      this.host.sendText(req, Buffer.alloc(0), { final: false, cont: false, ttt: this.receivingTtt });
      return;
    }
    this.receivingTtt = undefined;
    const chunks = splitTextResponse(encodeTextPairs(this.host.answer(round.pairs)), this.host.maxSegment);
    this.outgoing = { ttt: chunks.length > 1 ? this.host.allocTtt() : RESERVED_TAG, chunks, index: 0 };
    this.sendNextChunk(req);
  }

  private sendNextChunk(req: TextRequestPdu): void {
    const out = this.outgoing!;
    const chunk = out.chunks[out.index] ?? Buffer.alloc(0);
    out.index++;
    const last = out.index >= out.chunks.length;
    this.host.sendText(req, chunk, { final: last, cont: !last, ttt: last ? RESERVED_TAG : out.ttt });
    if (last) this.outgoing = undefined;
  }

  private reset(): void {
    this.incoming.reset();
    this.receivingTtt = undefined;
    this.outgoing = undefined;
  }
}

import { encodeTextResponse, parseTextRequest, type InPdu, type TextRequestPdu } from './pdu.js';
import type { SessionHost } from './session-host.js';
import { TextExchange } from './text-exchange.js';
import type { TextPair } from './text.js';
import { allocTtt } from './transfer-tag.js';

/**
 * Text Requests in full feature phase (RFC 7143 §11.10), in CmdSN order: SendTargets (every target
 * in a discovery session, only its own in a normal one), NotUnderstood for any other key. The
 * continuation protocol (C bit, TTTs, responses in pieces) is text-exchange.ts.
 */
export class SessionText {
  private readonly exchange: TextExchange;

  constructor(
    private readonly s: SessionHost,
    private readonly discovery: boolean,
    /** The TargetName / TargetAddress pairs SendTargets=`value` answers with. */
    private readonly sendTargets: (value: string) => TextPair[],
  ) {
    this.exchange = new TextExchange({
      sendText: (req, data, f) => this.sendText(req, data, f),
      reject: (reason, bhs) => s.conn.reject(reason, bhs),
      answer: (pairs) => this.answer(pairs),
      get maxSegment() {
        return s.params.maxXmitDataSegmentLength;
      },
      allocTtt,
    });
  }

  handle(pdu: InPdu): void {
    const req = parseTextRequest(pdu.bhs);
    this.s.ordered(req.cmdSN, req.immediate, () => this.exchange.handle(req, pdu));
  }

  /** The answer to a complete Text Request. */
  private answer(pairs: TextPair[]): TextPair[] {
    const reply: TextPair[] = [];
    for (const [k, v] of pairs) {
      if (k === 'SendTargets') {
        if (!this.discovery && v === 'All') reply.push([k, 'Reject']);
        else reply.push(...this.sendTargets(v));
      } else {
        reply.push([k, 'NotUnderstood']);
      }
    }
    return reply;
  }

  private sendText(req: TextRequestPdu, data: Buffer, f: { final: boolean; cont: boolean; ttt: number }): void {
    const { conn, window } = this.s;
    conn.send(
      encodeTextResponse({
        final: f.final,
        cont: f.cont,
        lun: req.lun,
        itt: req.itt,
        ttt: f.ttt,
        statSN: conn.takeStatSN(),
        expCmdSN: window.expCmdSN,
        maxCmdSN: window.maxCmdSN,
        dataLength: data.length,
      }),
      data,
    );
  }
}

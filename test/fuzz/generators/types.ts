/** What a generator gets to work with, and what it is. */
import type { CaseContext } from '../case.js';
import type { ChapCredentials, Negotiation } from '../login.js';
import type { Rng } from '../rng.js';
import type { FuzzSession } from '../session.js';

/** The targets of one concurrency slot: cases in different slots cannot disturb each other (resets, reservations). */
export interface SlotTargets {
  /** LUN 0: a file, LUN 1: null. */
  readonly plain: string;
  /** CHAP (mutual possible), LUN 0: null. */
  readonly chap: string;
  readonly chapCredentials: ChapCredentials;
  readonly fileLunBlocks: number;
  readonly nullLunBlocks: number;
  readonly chapLunBlocks: number;
  /** A name no target has. */
  readonly unknown: string;
}

export interface SessionWish {
  kind?: 'plain' | 'chap' | 'discovery';
  neg?: Partial<Negotiation>;
}

export interface GenContext {
  readonly r: Rng;
  readonly ctx: CaseContext;
  readonly slot: SlotTargets;
  readonly answerMs: number;
  readonly initiatorName: string;
  /** A new TCP connection, not logged in (closed and settled by the harness at the end). */
  connect(): Promise<FuzzSession>;
  /** A new connection logged in with a random valid negotiation (undefined if the login failed: already reported). */
  session(wish?: SessionWish): Promise<FuzzSession | undefined>;
}

export interface Generator {
  /** Unique; used to pick and to filter generators (SCATTER_FUZZ_GENERATORS). */
  readonly name: string;
  /** The PDU type it is about (for the docs and reports). */
  readonly pdu: string;
  run(g: GenContext): Promise<void>;
}

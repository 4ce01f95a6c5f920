/**
 * Operational parameter negotiation for one login (RFC 7143 §6, §13).
 *
 * The target only answers: it never makes an offer that needs a reply,
 * because common initiators handle those badly (open-iscsi does not answer
 * target offers; libiscsi re-sends all its keys). So a key the initiator never
 * offers keeps its RFC default on both sides, with one exception that is safe:
 * boolean keys whose outcome the target's offer alone decides (AND with "No",
 * OR with "Yes") are declared by `finalDeclarations()`.
 */
import {
  combineBoolean,
  combineNumber,
  formatBoolean,
  isLoginKey,
  OPERATIONAL_KEYS,
  parseBoolean,
  parseNumber,
  RESERVED_ANSWERS,
  type KeyDefinition,
} from './keys-table.js';
import {
  defaultTargetNegotiationConfig,
  rfcDefaultSessionParams,
  validateTargetNegotiationConfig,
  type SessionParams,
  type TargetNegotiationConfig,
} from './session-params.js';
import type { TextPair } from './text.js';
import { ScatterError } from '../shared/errors.js';

export {
  defaultTargetNegotiationConfig,
  rfcDefaultSessionParams,
  type DigestName,
  type SessionParams,
  type TargetNegotiationConfig,
} from './session-params.js';

export type SessionType = 'Discovery' | 'Normal';

/**
 * DUPLICATE_KEY: a key offered twice in one login (login status: Initiator Error).
 * NO_COMMON_VALUE: the offered list has nothing the target accepts and the
 *   default is unacceptable too, e.g. HeaderDigest=None when CRC32C is required (Initiator Error).
 * MISSING_KEY: the initiator never offered a key whose default the target cannot accept (Missing Parameter).
 */
export type NegotiationErrorCode = 'DUPLICATE_KEY' | 'NO_COMMON_VALUE' | 'MISSING_KEY';

export class NegotiationError extends ScatterError<NegotiationErrorCode> {
  constructor(
    code: NegotiationErrorCode,
    readonly key: string,
    message: string,
  ) {
    super(code, message);
  }
}

export interface NegotiationReply {
  /** Keys to send back, in the order of the request. */
  readonly reply: TextPair[];
  /** Set when the login must fail; `reply` then holds what was answered before the failure. */
  readonly error?: NegotiationError;
}

type Outcome = boolean | number | string;

export class OperationalNegotiator {
  private readonly config: TargetNegotiationConfig;
  /** Keys offered by the initiator or declared by us; a second offer is an error. */
  private readonly seen = new Set<string>();
  /** Negotiated outcomes; absent keys keep the RFC default. */
  private readonly outcomes = new Map<string, Outcome>();
  private ownMaxRecvDeclared = false;

  constructor(
    readonly sessionType: SessionType,
    target: TargetNegotiationConfig = defaultTargetNegotiationConfig,
  ) {
    validateTargetNegotiationConfig(target);
    this.config = target;
  }

  /**
   * Answer the operational keys of one (reassembled) Login or Text request.
   * Login/auth keys (InitiatorName, AuthMethod, CHAP_* ...) and SendTargets are ignored.
   */
  respond(pairs: readonly (readonly [string, string])[]): NegotiationReply {
    const answers: TextPair[][] = pairs.map(() => []);
    // FirstBurstLength is answered after MaxBurstLength so it can be clamped below it.
    const order = [...pairs.keys()].sort(
      (a, b) => Number(pairs[a][0] === 'FirstBurstLength') - Number(pairs[b][0] === 'FirstBurstLength'),
    );
    for (const index of order) {
      const [key, value] = pairs[index];
      const answer = this.answer(key, value);
      if (answer instanceof NegotiationError) return { reply: answers.flat(), error: answer };
      answers[index] = answer;
    }
    return { reply: answers.flat() };
  }

  /**
   * Keys the target must still state before full feature phase; call once, for
   * the final Login Response. Returns MaxRecvDataSegmentLength if not yet
   * declared, and for Normal sessions the boolean keys whose outcome the
   * target's value alone decides (e.g. ImmediateData=No when the target
   * forbids immediate data and the initiator never offered the key).
   */
  finalDeclarations(): TextPair[] {
    const out: TextPair[] = [];
    if (!this.ownMaxRecvDeclared) {
      out.push(['MaxRecvDataSegmentLength', String(this.config.maxRecvDataSegmentLength)]);
      this.ownMaxRecvDeclared = true;
    }
    for (const [key, def] of OPERATIONAL_KEYS) {
      if (def.kind !== 'boolean' || this.seen.has(key) || !this.isRelevant(def)) continue;
      const outcome = combineBoolean(def.fn, def.rfcDefault, def.target(this.config));
      // Differs from the default only for AND+No or OR+Yes, where the offer fixes the result.
      if (outcome !== def.rfcDefault) {
        out.push([key, formatBoolean(outcome)]);
        this.outcomes.set(key, outcome);
        this.seen.add(key);
      }
    }
    return out;
  }

  /**
   * An outcome the target cannot live with because the initiator never
   * offered the key (a digest the target requires). Check before transit.
   */
  unmetRequirement(): NegotiationError | undefined {
    for (const [key, def] of OPERATIONAL_KEYS) {
      if (def.kind !== 'list' || this.seen.has(key) || !this.isRelevant(def)) continue;
      if (!def.accepted(this.config).includes(def.rfcDefault)) {
        return new NegotiationError('MISSING_KEY', key, `${key} must be negotiated; ${def.rfcDefault} is not accepted`);
      }
    }
    return undefined;
  }

  /** The agreed parameters; RFC defaults for keys never negotiated. */
  result(): SessionParams {
    const maxBurstLength = this.numberOutcome('MaxBurstLength');
    return {
      headerDigest: this.stringOutcome('HeaderDigest') === 'CRC32C',
      dataDigest: this.stringOutcome('DataDigest') === 'CRC32C',
      maxRecvDataSegmentLength: this.ownMaxRecvDeclared
        ? this.config.maxRecvDataSegmentLength
        : rfcDefaultSessionParams.maxRecvDataSegmentLength,
      maxXmitDataSegmentLength: this.numberOutcome('MaxRecvDataSegmentLength'),
      maxBurstLength,
      firstBurstLength: Math.min(this.numberOutcome('FirstBurstLength'), maxBurstLength),
      initialR2T: this.booleanOutcome('InitialR2T'),
      immediateData: this.booleanOutcome('ImmediateData'),
      maxOutstandingR2T: this.numberOutcome('MaxOutstandingR2T'),
      maxConnections: this.numberOutcome('MaxConnections'),
      defaultTime2Wait: this.numberOutcome('DefaultTime2Wait'),
      defaultTime2Retain: this.numberOutcome('DefaultTime2Retain'),
      dataPduInOrder: this.booleanOutcome('DataPDUInOrder'),
      dataSequenceInOrder: this.booleanOutcome('DataSequenceInOrder'),
      errorRecoveryLevel: this.numberOutcome('ErrorRecoveryLevel'),
    };
  }

  private answer(key: string, value: string): TextPair[] | NegotiationError {
    if (isLoginKey(key)) return [];
    if (this.seen.has(key)) {
      return new NegotiationError('DUPLICATE_KEY', key, `${key} negotiated more than once`);
    }
    this.seen.add(key);
    const def = OPERATIONAL_KEYS.get(key);
    // Unknown keys, including vendor X- and X# keys.
    if (def === undefined) return [[key, 'NotUnderstood']];
    // These are answers, never offers; there is nothing to reply to.
    if (RESERVED_ANSWERS.has(value)) return [];
    if (!this.isRelevant(def)) return [[key, 'Irrelevant']];
    switch (def.kind) {
      case 'boolean': {
        const offered = parseBoolean(value);
        if (offered === undefined) return [[key, 'Reject']];
        const outcome = combineBoolean(def.fn, offered, def.target(this.config));
        this.outcomes.set(key, outcome);
        return [[key, formatBoolean(outcome)]];
      }
      case 'numeric': {
        const offered = this.parseInRange(def, value);
        if (offered === undefined) return [[key, 'Reject']];
        let outcome = combineNumber(def.fn, offered, def.target(this.config));
        // RFC 7143 §13.14: FirstBurstLength must not exceed MaxBurstLength.
        if (key === 'FirstBurstLength') outcome = Math.min(outcome, this.numberOutcome('MaxBurstLength'));
        this.outcomes.set(key, outcome);
        return [[key, String(outcome)]];
      }
      case 'declarative': {
        const declared = this.parseInRange(def, value);
        if (declared === undefined) return [[key, 'Reject']];
        this.outcomes.set(key, declared);
        if (this.ownMaxRecvDeclared) return [];
        this.ownMaxRecvDeclared = true;
        return [[key, String(def.target(this.config))]];
      }
      case 'list': {
        const accepted = def.accepted(this.config);
        const choice = value.split(',').find((v) => accepted.includes(v));
        if (choice !== undefined) {
          this.outcomes.set(key, choice);
          return [[key, choice]];
        }
        if (!accepted.includes(def.rfcDefault)) {
          return new NegotiationError('NO_COMMON_VALUE', key, `${key}=${value} has no value the target accepts`);
        }
        return [[key, 'Reject']];
      }
      case 'reject':
        return [[key, 'Reject']];
    }
  }

  private isRelevant(def: KeyDefinition): boolean {
    return this.sessionType === 'Normal' || def.inDiscovery;
  }

  private parseInRange(def: { min: number; max: number }, value: string): number | undefined {
    const n = parseNumber(value);
    return n !== undefined && n >= def.min && n <= def.max ? n : undefined;
  }

  private outcome(key: string): Outcome {
    const stored = this.outcomes.get(key);
    if (stored !== undefined) return stored;
    const def = OPERATIONAL_KEYS.get(key);
    if (def === undefined || def.kind === 'reject') throw new Error(`no default for ${key}`);
    return def.rfcDefault;
  }

  private numberOutcome(key: string): number {
    const v = this.outcome(key);
    if (typeof v !== 'number') throw new Error(`${key} is not numeric`);
    return v;
  }

  private booleanOutcome(key: string): boolean {
    const v = this.outcome(key);
    if (typeof v !== 'boolean') throw new Error(`${key} is not boolean`);
    return v;
  }

  private stringOutcome(key: string): string {
    const v = this.outcome(key);
    if (typeof v !== 'string') throw new Error(`${key} is not a list value`);
    return v;
  }
}

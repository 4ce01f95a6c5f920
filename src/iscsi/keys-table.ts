/**
 * The operational text keys of RFC 7143 §13: value type, result function,
 * valid range, RFC default, the target's own value, and whether the key
 * matters in a Discovery session.
 */
import {
  DATA_LENGTH_MAX,
  DATA_LENGTH_MIN,
  R2T_MAX,
  TIME2_MAX,
  type TargetNegotiationConfig,
} from './session-params.js';

type Config = TargetNegotiationConfig;

interface KeyBase {
  /** False for keys RFC 7143 calls "Irrelevant when: SessionType=Discovery". */
  readonly inDiscovery: boolean;
}

/** Boolean with result function AND or OR (RFC 7143 §6.2.2). */
export interface BooleanKey extends KeyBase {
  readonly kind: 'boolean';
  readonly fn: 'and' | 'or';
  readonly rfcDefault: boolean;
  readonly target: (c: Config) => boolean;
}

/** Number with result function Minimum or Maximum. */
export interface NumericKey extends KeyBase {
  readonly kind: 'numeric';
  readonly fn: 'min' | 'max';
  readonly min: number;
  readonly max: number;
  readonly rfcDefault: number;
  readonly target: (c: Config) => number;
}

/** Declarative number: each side states its own value (MaxRecvDataSegmentLength). */
export interface DeclarativeKey extends KeyBase {
  readonly kind: 'declarative';
  readonly min: number;
  readonly max: number;
  readonly rfcDefault: number;
  readonly target: (c: Config) => number;
}

/** List of values in the originator's preference order; the responder picks the first it supports. */
export interface ListKey extends KeyBase {
  readonly kind: 'list';
  readonly rfcDefault: string;
  readonly accepted: (c: Config) => readonly string[];
}

/** Obsolete keys a responder must answer with "Reject" (RFC 7143 §13.26). */
export interface RejectKey extends KeyBase {
  readonly kind: 'reject';
}

export type KeyDefinition = BooleanKey | NumericKey | DeclarativeKey | ListKey | RejectKey;

const lengthRange = { min: DATA_LENGTH_MIN, max: DATA_LENGTH_MAX } as const;

export const OPERATIONAL_KEYS: ReadonlyMap<string, KeyDefinition> = new Map<string, KeyDefinition>([
  ['HeaderDigest', { kind: 'list', inDiscovery: true, rfcDefault: 'None', accepted: (c) => c.headerDigests }],
  ['DataDigest', { kind: 'list', inDiscovery: true, rfcDefault: 'None', accepted: (c) => c.dataDigests }],
  // Scatter serves one connection per session.
  ['MaxConnections', { kind: 'numeric', fn: 'min', inDiscovery: false, min: 1, max: 65535, rfcDefault: 1, target: () => 1 }],
  ['InitialR2T', { kind: 'boolean', fn: 'or', inDiscovery: false, rfcDefault: true, target: (c) => c.initialR2T }],
  ['ImmediateData', { kind: 'boolean', fn: 'and', inDiscovery: false, rfcDefault: true, target: (c) => c.immediateData }],
  [
    'MaxRecvDataSegmentLength',
    { kind: 'declarative', inDiscovery: true, ...lengthRange, rfcDefault: 8192, target: (c) => c.maxRecvDataSegmentLength },
  ],
  [
    'MaxBurstLength',
    { kind: 'numeric', fn: 'min', inDiscovery: false, ...lengthRange, rfcDefault: 262144, target: (c) => c.maxBurstLength },
  ],
  [
    'FirstBurstLength',
    { kind: 'numeric', fn: 'min', inDiscovery: false, ...lengthRange, rfcDefault: 65536, target: (c) => c.firstBurstLength },
  ],
  [
    'DefaultTime2Wait',
    { kind: 'numeric', fn: 'max', inDiscovery: true, min: 0, max: TIME2_MAX, rfcDefault: 2, target: (c) => c.defaultTime2Wait },
  ],
  [
    'DefaultTime2Retain',
    { kind: 'numeric', fn: 'min', inDiscovery: true, min: 0, max: TIME2_MAX, rfcDefault: 20, target: (c) => c.defaultTime2Retain },
  ],
  [
    'MaxOutstandingR2T',
    { kind: 'numeric', fn: 'min', inDiscovery: false, min: 1, max: R2T_MAX, rfcDefault: 1, target: (c) => c.maxOutstandingR2T },
  ],
  // Scatter delivers and accepts data in order; OR with our Yes always yields Yes.
  ['DataPDUInOrder', { kind: 'boolean', fn: 'or', inDiscovery: false, rfcDefault: true, target: () => true }],
  ['DataSequenceInOrder', { kind: 'boolean', fn: 'or', inDiscovery: false, rfcDefault: true, target: () => true }],
  // Only session recovery (level 0) is implemented.
  ['ErrorRecoveryLevel', { kind: 'numeric', fn: 'min', inDiscovery: true, min: 0, max: 2, rfcDefault: 0, target: () => 0 }],
  // Markers are obsolete; "No" is an allowed answer and the one RFC 3720 initiators expect (AND with No).
  ['IFMarker', { kind: 'boolean', fn: 'and', inDiscovery: true, rfcDefault: false, target: () => false }],
  ['OFMarker', { kind: 'boolean', fn: 'and', inDiscovery: true, rfcDefault: false, target: () => false }],
  ['IFMarkInt', { kind: 'reject', inDiscovery: true }],
  ['OFMarkInt', { kind: 'reject', inDiscovery: true }],
  ['TaskReporting', { kind: 'list', inDiscovery: false, rfcDefault: 'RFC3720', accepted: () => ['RFC3720'] }],
  // RFC 7143 is protocol level 1 (RFC 7144).
  ['iSCSIProtocolLevel', { kind: 'numeric', fn: 'min', inDiscovery: true, min: 0, max: 31, rfcDefault: 1, target: () => 1 }],
]);

/**
 * Keys that belong to the login state machine or to discovery, not to
 * operational negotiation; the negotiator ignores them.
 */
const LOGIN_KEYS: ReadonlySet<string> = new Set([
  'InitiatorName',
  'InitiatorAlias',
  'TargetName',
  'TargetAlias',
  'TargetAddress',
  'TargetPortalGroupTag',
  'SessionType',
  'AuthMethod',
  'SendTargets',
]);
const AUTH_KEY_PREFIXES = ['CHAP_', 'SRP_', 'KRB_', 'SPKM_'] as const;

export function isLoginKey(key: string): boolean {
  return LOGIN_KEYS.has(key) || AUTH_KEY_PREFIXES.some((prefix) => key.startsWith(prefix));
}

/** Answers that are never offers (RFC 7143 §6.2). */
export const RESERVED_ANSWERS: ReadonlySet<string> = new Set(['Reject', 'Irrelevant', 'NotUnderstood']);

/** "Yes" / "No" exactly (values are case-sensitive). */
export function parseBoolean(value: string): boolean | undefined {
  if (value === 'Yes') return true;
  if (value === 'No') return false;
  return undefined;
}

export function formatBoolean(value: boolean): string {
  return value ? 'Yes' : 'No';
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;
const HEX = /^0[xX][0-9a-fA-F]{1,13}$/;

/**
 * RFC 7143 §6.1 numerical values: a decimal constant without leading zeros,
 * or a hex constant "0x...". Lengths are capped so the result stays exact.
 */
export function parseNumber(value: string): number | undefined {
  if (DECIMAL.test(value)) return Number(value);
  if (HEX.test(value)) return Number.parseInt(value.slice(2), 16);
  return undefined;
}

export function combineBoolean(fn: 'and' | 'or', a: boolean, b: boolean): boolean {
  return fn === 'and' ? a && b : a || b;
}

export function combineNumber(fn: 'min' | 'max', a: number, b: number): number {
  return fn === 'min' ? Math.min(a, b) : Math.max(a, b);
}

/** The shapes the API answers with (api contract v1), as far as the CLI reads them, and one-line summaries. */
import { humanSize } from '../format.js';

export interface Auth {
  method: string;
  user?: string;
  mutualUser?: string;
  secretSet?: boolean;
  mutualSecretSet?: boolean;
  algorithms?: number[];
}

export interface InlineBackstore {
  type: string;
  path?: string;
  size?: number;
  blockSize?: number;
}

export interface Lun {
  lun: number;
  backstore: string | InlineBackstore;
  readOnly?: boolean;
}

export interface Acl {
  initiator: string;
  auth?: Auth;
  luns?: { lun: number; as?: number; readOnly?: boolean }[];
}

export interface Target {
  iqn: string;
  alias?: string;
  auth?: Auth;
  allowAnyInitiator?: boolean;
  luns?: Lun[];
  acls?: Acl[];
}

export interface Backstore extends InlineBackstore {
  name: string;
  usedBy?: { target: string; lun: number };
}

export interface Portal {
  host: string;
  port: number;
}

/** GET /v1/sessions answers { sessions: Session[] }. */
export interface Session {
  id?: number;
  tsih: number;
  isid?: string;
  initiatorName?: string;
  initiatorAlias?: string | null;
  sourceAddress?: string;
  sourcePort?: number;
  target?: string | null;
  sessionType?: string;
  connections?: unknown[];
  counters?: { commands?: number; readBytes?: number; writtenBytes?: number };
  ageSeconds?: number;
}

/** GET /v1/logins answers { logins: LoginAttempt[] }, newest first. */
export interface LoginAttempt {
  at: string;
  initiatorName: string | null;
  sourceAddress?: string;
  target?: string | null;
  outcome: 'success' | 'failure';
  reason?: string;
  detail?: string;
}

/** `chap user=u mutual=m` / `none`: never a secret (the API does not send them anyway). */
export function authSummary(a: Auth | undefined): string {
  if (a === undefined || a.method === 'none') return 'none';
  const parts = [a.method];
  if (a.user !== undefined) parts.push(`user=${a.user}`);
  if (a.mutualUser !== undefined) parts.push(`mutual=${a.mutualUser}`);
  return parts.join(' ');
}

/** A LUN's backstore for a table row: named (looked up by the caller if it has the list) or inline. */
export function backstoreSummary(b: string | InlineBackstore, named?: Map<string, Backstore>): { name: string; type: string; size: string; path: string } {
  if (typeof b === 'string') {
    const known = named?.get(b);
    return { name: b, type: known?.type ?? '', size: known ? humanSize(known.size) : '', path: known?.path ?? '' };
  }
  return { name: '(inline)', type: b.type, size: humanSize(b.size), path: b.path ?? '' };
}

/** `0, 1->2 (ro)`: the target LUN, the number the initiator sees if different, read-only. */
export function mappedLuns(a: Acl): string {
  if (a.luns === undefined) return 'all';
  if (a.luns.length === 0) return 'none';
  return a.luns.map((m) => `${m.lun}${m.as !== undefined && m.as !== m.lun ? `->${m.as}` : ''}${m.readOnly ? ' (ro)' : ''}`).join(', ');
}

export function portalText(p: Portal): string {
  return p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
}

/** Targets and their LUNs. */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AclSchema } from './acl.js';
import { AuthSchema } from './auth.js';
import { BackstoreNameSchema, BackstoreSchema, type BackstoreConfig } from './backstore.js';
import { IscsiNameSchema, byteSize, hasControlCharacters, integer, reportDuplicates } from './fields.js';

/** TargetAlias (RFC 7143 §13.6): human-readable text of at most 255 bytes. */
const AliasSchema = z
  .string()
  .min(1, 'must not be empty')
  .refine((alias) => Buffer.byteLength(alias, 'utf8') <= 255, 'must be at most 255 bytes')
  .refine((alias) => !hasControlCharacters(alias), 'must not contain control characters');

/** Unit serial number (VPD page 80h): printable ASCII, no surrounding spaces. */
const SerialSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(32, 'must be at most 32 characters')
  .regex(/^[!-~](?:[ -~]*[!-~])?$/, 'must be printable ASCII without leading or trailing spaces');

/**
 * A string is a backstore's name, anything else an inline backstore: checked as one or the other
 * (not as a union), so that a mistake in an inline backstore is reported field by field.
 */
const LunBackstoreSchema = z.unknown().transform((value, ctx): string | BackstoreConfig => {
  const result = typeof value === 'string' ? BackstoreNameSchema.safeParse(value) : BackstoreSchema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ ...issue });
  return z.NEVER;
});

export const LunSchema = z.strictObject({
  lun: integer(0, 16383),
  /** Inline, or the name of an entry of the top-level `backstores` list (resolved by ConfigSchema). */
  backstore: LunBackstoreSchema,
  readOnly: z.boolean().default(false),
  /** Removable medium (INQUIRY RMB = 1): START STOP UNIT can eject / load it, PREVENT ALLOW is honoured. */
  removable: z.boolean().default(false),
  /** Defaults to a stable value derived from the target name and LUN (see defaultLunSerial). */
  serial: SerialSchema.optional(),
  /**
   * SANITIZE OVERWRITE pace in bytes per second (e.g. 50MiB), so that sanitizing one LU does not
   * starve others on the same disk; 0 = as fast as the backstore writes.
   */
  sanitizeRate: byteSize(0, Number.MAX_SAFE_INTEGER).default(0),
});

/**
 * A serial that stays the same across restarts, so that udev names and
 * multipath maps on the initiators stay put: 32 hex digits of SHA-256 over
 * the target name and the LUN.
 */
export function defaultLunSerial(iqn: string, lun: number): string {
  return createHash('sha256').update(`${iqn}\0${lun}`).digest('hex').slice(0, 32);
}

export const TargetSchema = z
  .strictObject({
    iqn: IscsiNameSchema,
    alias: AliasSchema.optional(),
    auth: AuthSchema.default({ method: 'none' }),
    luns: z.array(LunSchema).default([]),
    /** Any initiator may log in and sees every LUN. Default: true without `acls`, false with them. */
    allowAnyInitiator: z.boolean().optional(),
    /** Who may log in (when allowAnyInitiator is false), with what auth, seeing which LUNs. */
    acls: z.array(AclSchema).default([]),
  })
  .superRefine((target, ctx) => {
    reportDuplicates(
      target.luns.map((lun) => lun.lun),
      (index, lun) => ctx.addIssue({ code: 'custom', path: ['luns', index, 'lun'], message: `duplicate LUN ${lun}` }),
    );
    checkAcls(target, ctx);
  })
  .transform((target) => ({
    ...target,
    allowAnyInitiator: target.allowAnyInitiator ?? target.acls.length === 0,
    luns: target.luns.map((lun) => ({ ...lun, serial: lun.serial ?? defaultLunSerial(target.iqn, lun.lun) })),
  }));


interface AclCheckInput {
  readonly allowAnyInitiator?: boolean;
  readonly luns: readonly { readonly lun: number }[];
  readonly acls: readonly { readonly initiator: string; readonly luns?: readonly { readonly lun: number }[] }[];
}

/** allowAnyInitiator against acls, one ACL per initiator, ACLs that map only LUNs the target has. */
function checkAcls(target: AclCheckInput, ctx: z.RefinementCtx): void {
  if (target.allowAnyInitiator === true && target.acls.length > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['allowAnyInitiator'],
      message: 'must not be true when acls are listed: either every initiator may log in, or only those in acls',
    });
  }
  reportDuplicates(
    target.acls.map((acl) => acl.initiator.toLowerCase()),
    (index, name) =>
      ctx.addIssue({ code: 'custom', path: ['acls', index, 'initiator'], message: `duplicate ACL for initiator ${name}` }),
  );
  const known = new Set(target.luns.map((l) => l.lun));
  const listed = [...known].sort((a, b) => a - b).join(', ') || 'none';
  target.acls.forEach((acl, i) =>
    acl.luns?.forEach((mapping, j) => {
      if (!known.has(mapping.lun)) {
        ctx.addIssue({
          code: 'custom',
          path: ['acls', i, 'luns', j, 'lun'],
          message: `LUN ${mapping.lun} is not a LUN of this target (its LUNs: ${listed})`,
        });
      }
    }),
  );
}

/**
 * Per-target access control lists: which initiators may log in, with what authentication, and
 * which of the target's LUNs each sees under which number (LUN masking and mapping).
 */
import { z } from 'zod';
import { AuthSchema } from './auth.js';
import { IscsiNameSchema, integer, reportDuplicates } from './fields.js';

/** Highest flat LUN (SAM-5 single-level, 14 bits): as for the target's own LUNs. */
const MAX_LUN = 16383;

const AclLunSchema = z.strictObject({
  /** The target's LUN (must be one of target.luns). */
  lun: integer(0, MAX_LUN),
  /** The LUN number this initiator sees; default the target's own number. */
  as: integer(0, MAX_LUN).optional(),
  /** Writes through this mapping are refused (DATA PROTECT, WRITE PROTECTED), whatever the LU allows. */
  readOnly: z.boolean().default(false),
});

export const AclSchema = z
  .strictObject({
    /** iSCSI name of the initiator (lowercase, as every iSCSI name in the file). */
    initiator: IscsiNameSchema,
    /** Overrides the target's auth for this initiator ({ method: none } included). */
    auth: AuthSchema.optional(),
    /** Absent: every LUN of the target (also ones added later) under its own number, read-write. */
    luns: z.array(AclLunSchema).optional(),
  })
  .superRefine((acl, ctx) => {
    const luns = acl.luns ?? [];
    reportDuplicates(
      luns.map((l) => l.lun),
      (index, lun) => ctx.addIssue({ code: 'custom', path: ['luns', index, 'lun'], message: `LUN ${lun} is mapped twice in this ACL` }),
    );
    reportDuplicates(
      luns.map((l) => l.as ?? l.lun),
      (index, as) =>
        ctx.addIssue({
          code: 'custom',
          path: ['luns', index, 'as'],
          message: `the initiator would see two LUNs as ${as}: give each mapping its own \`as\``,
        }),
    );
  })
  .transform((acl) => ({
    ...acl,
    luns: acl.luns?.map((l) => ({ ...l, as: l.as ?? l.lun })),
  }));

export type AclConfig = z.output<typeof AclSchema>;
export type AclLunConfig = NonNullable<AclConfig['luns']>[number];

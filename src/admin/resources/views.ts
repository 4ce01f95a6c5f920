/** What the API shows of each resource (secrets redacted), and the zod schemas of those answers. */
import { z } from 'zod';
import type { AclConfig, Config, LunConfig, NamedBackstoreConfig, TargetConfig } from '../../config/schema.js';
import { redactAuth } from './redact.js';

export const AuthViewSchema = z
  .union([
    z.object({ method: z.literal('none') }),
    z.object({
      method: z.literal('chap'),
      user: z.string(),
      secretSet: z.literal(true).describe('the secret is write-only: never shown'),
      mutualUser: z.string().optional(),
      mutualSecretSet: z.boolean(),
      algorithms: z.array(z.number().int()),
    }),
  ])
  .meta({ id: 'AuthView' });

const BackstoreObject = z.record(z.string(), z.unknown()).describe('type (file, null, block) and its settings; sizes in bytes');

export const LunViewSchema = z
  .object({
    lun: z.number().int(),
    backstore: z.union([z.string().describe('name of a backstore in /v1/backstores'), BackstoreObject]),
    readOnly: z.boolean(),
    removable: z.boolean(),
    serial: z.string(),
    sanitizeRate: z.number(),
  })
  .meta({ id: 'Lun' });

export const AclViewSchema = z
  .object({
    initiator: z.string(),
    auth: AuthViewSchema.optional(),
    luns: z.array(z.object({ lun: z.number().int(), as: z.number().int().optional(), readOnly: z.boolean().optional() })).optional(),
  })
  .meta({ id: 'Acl' });

export const TargetViewSchema = z
  .object({
    iqn: z.string(),
    alias: z.string().optional(),
    auth: AuthViewSchema,
    allowAnyInitiator: z.boolean(),
    luns: z.array(LunViewSchema),
    acls: z.array(AclViewSchema),
  })
  .meta({ id: 'Target' });

export const BackstoreViewSchema = z
  .object({
    name: z.string(),
    type: z.enum(['file', 'null', 'block']),
    usedBy: z.object({ target: z.string(), lun: z.number().int() }).optional(),
  })
  .catchall(z.unknown())
  .meta({ id: 'Backstore' });

export function lunView(lun: LunConfig): z.output<typeof LunViewSchema> {
  return {
    lun: lun.lun,
    backstore: lun.backstoreName ?? { ...lun.backstore },
    readOnly: lun.readOnly,
    removable: lun.removable,
    serial: lun.serial,
    sanitizeRate: lun.sanitizeRate,
  };
}

export function aclView(acl: AclConfig): z.output<typeof AclViewSchema> {
  return {
    initiator: acl.initiator,
    ...(acl.auth === undefined ? {} : { auth: redactAuth(acl.auth) }),
    ...(acl.luns === undefined ? {} : { luns: acl.luns.map((l) => ({ ...l })) }),
  };
}

export function targetView(t: TargetConfig): z.output<typeof TargetViewSchema> {
  return {
    iqn: t.iqn,
    ...(t.alias === undefined ? {} : { alias: t.alias }),
    auth: redactAuth(t.auth),
    allowAnyInitiator: t.allowAnyInitiator,
    luns: t.luns.map(lunView),
    acls: t.acls.map(aclView),
  };
}

/** The LUN that uses backstore `name`, if any. */
export function userOf(config: Config, name: string): { target: string; lun: number } | undefined {
  for (const t of config.targets) for (const l of t.luns) if (l.backstoreName === name) return { target: t.iqn, lun: l.lun };
  return undefined;
}

export function backstoreView(config: Config, b: NamedBackstoreConfig): z.output<typeof BackstoreViewSchema> {
  const usedBy = userOf(config, b.name);
  return { ...b, ...(usedBy === undefined ? {} : { usedBy }) };
}

export function findTarget(config: Config, iqn: string): TargetConfig | undefined {
  return config.targets.find((t) => t.iqn.toLowerCase() === iqn.toLowerCase());
}

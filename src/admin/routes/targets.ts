/** /v1/targets and /v1/targets/{iqn}/luns: targets (alias, auth, access mode) and their LUNs. */
import { z } from 'zod';
import { AuthSchema } from '../../config/schema/auth.js';
import { IscsiNameSchema } from '../../config/schema/fields.js';
import { LunSchema } from '../../config/schema/target.js';
import type { LunConfig, TargetConfig } from '../../config/schema.js';
import type { AdminRoutes } from '../app.js';
import { ApiProblem, problemResponses } from '../problem.js';
import type { Draft, LunInput, TargetInput } from '../resources/draft.js';
import { LunViewSchema, TargetViewSchema, findTarget, lunView, targetView } from '../resources/views.js';
import { ForceQuery, mergePatch, sendRead, sendWrite, writeAnswer, writeResource } from '../resources/write.js';

const IqnParams = z.object({ iqn: z.string().describe('target IQN (case-insensitive)') });
const LunParams = IqnParams.extend({ lun: z.coerce.number().int().min(0).max(16383) });

/** What a PUT of a target sets (its LUNs and ACLs are sub-resources). */
const TargetBody = z
  .strictObject({
    iqn: IscsiNameSchema.optional().describe('if given, must equal the IQN in the path'),
    alias: z.string().optional(),
    auth: AuthSchema.optional().describe('default none; CHAP secrets are write-only'),
    allowAnyInitiator: z.boolean().optional().describe('default: true when the target has no ACLs'),
  })
  .meta({ id: 'TargetSettings' });

const LunBody = LunSchema.partial({ lun: true }).meta({ id: 'LunSettings' });
const MergePatch = z.record(z.string(), z.unknown()).describe('JSON merge patch (RFC 7396)');

const GRACE_MS = 2000;

function targetOf(draft: Draft, iqn: string): TargetInput {
  const t = draft.target(iqn);
  if (!t) throw new ApiProblem('not-found', `target ${iqn} does not exist`);
  return t;
}

/** The settings part of a target as a PUT body would give them, for PATCH to merge into. */
function settingsOf(t: TargetConfig): Record<string, unknown> {
  return { alias: t.alias, auth: t.auth, allowAnyInitiator: t.allowAnyInitiator };
}

function applySettings(draft: Draft, iqn: string, body: z.output<typeof TargetBody>): void {
  if (body.iqn !== undefined && body.iqn.toLowerCase() !== iqn.toLowerCase()) {
    throw new ApiProblem('conflict', `the body names target ${body.iqn}, the path ${iqn}: a target's IQN cannot change`);
  }
  const existing = draft.target(iqn);
  const settings: TargetInput = {
    iqn: existing?.iqn ?? iqn,
    ...(body.alias === undefined ? {} : { alias: body.alias }),
    auth: body.auth ?? { method: 'none' },
    ...(body.allowAnyInitiator === undefined ? {} : { allowAnyInitiator: body.allowAnyInitiator }),
    luns: existing?.luns ?? [],
    acls: existing?.acls ?? [],
  };
  if (existing) draft.targets.splice(draft.targets.indexOf(existing), 1, settings);
  else draft.targets.push(settings);
}

function putLun(draft: Draft, iqn: string, lun: number, body: unknown): void {
  const target = targetOf(draft, iqn);
  const record = body as Record<string, unknown>;
  if (record.lun !== undefined && record.lun !== lun) throw new ApiProblem('conflict', `the body names LUN ${String(record.lun)}, the path ${lun}`);
  const luns = target.luns ?? [];
  const next = { ...record, lun } as LunInput;
  const at = luns.findIndex((l) => l.lun === lun);
  if (at >= 0) luns[at] = next;
  else luns.push(next);
  luns.sort((a, b) => (a.lun as number) - (b.lun as number));
  target.luns = luns;
}

/** A LUN as a PUT body would give it (named backstores by name). */
function lunBodyOf(l: LunConfig): Record<string, unknown> {
  const { backstoreName, ...rest } = l;
  return { ...rest, backstore: backstoreName ?? rest.backstore };
}

export const targetRoutes: AdminRoutes = (app, { control, iscsi, log }) => {
  const sessionsOf = (iqn: string) => iscsi.sessions.all().filter((s) => s.target?.iqn.toLowerCase() === iqn.toLowerCase());

  app.get(
    '/targets',
    { schema: { tags: ['targets'], summary: 'Every target with its LUNs and ACLs', response: { 200: z.array(TargetViewSchema), ...problemResponses() } } },
    async () => control.desired.targets.map(targetView),
  );

  app.get(
    '/targets/:iqn',
    { schema: { tags: ['targets'], summary: 'One target', params: IqnParams, response: { 200: TargetViewSchema, ...problemResponses(404) } } },
    async (req, reply) => sendRead(reply, control, findTarget(control.desired, req.params.iqn), `target ${req.params.iqn}`, targetView),
  );

  app.put(
    '/targets/:iqn',
    {
      schema: {
        tags: ['targets'],
        summary: 'Create a target (no LUNs yet) or converge its settings',
        params: IqnParams,
        body: TargetBody,
        response: { 200: writeAnswer(TargetViewSchema), 201: writeAnswer(TargetViewSchema), ...problemResponses(404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { iqn } = req.params;
      const outcome = await writeResource(control, req, {
        what: `target ${iqn}`,
        creates: true,
        current: (d) => findTarget(d, iqn),
        edit: (draft) => applySettings(draft, iqn, req.body),
      });
      log.info({ target: iqn, created: outcome.created, steps: outcome.change.steps }, 'admin API: target put');
      return sendWrite(reply, outcome, targetView);
    },
  );

  app.patch(
    '/targets/:iqn',
    {
      schema: {
        tags: ['targets'],
        summary: "Change some of a target's settings (JSON merge patch of alias, auth, allowAnyInitiator)",
        params: IqnParams,
        body: MergePatch,
        response: { 200: writeAnswer(TargetViewSchema), ...problemResponses(404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { iqn } = req.params;
      const outcome = await writeResource(control, req, {
        what: `target ${iqn}`,
        current: (d) => findTarget(d, iqn),
        edit: (draft, existing) => {
          const merged = TargetBody.safeParse(mergePatch(settingsOf(existing!), req.body));
          if (!merged.success) throw patchProblem(merged.error);
          applySettings(draft, iqn, merged.data);
        },
      });
      log.info({ target: iqn, steps: outcome.change.steps }, 'admin API: target patched');
      return sendWrite(reply, outcome, targetView);
    },
  );

  app.delete(
    '/targets/:iqn',
    {
      schema: {
        tags: ['targets'],
        summary: 'Delete a target and its LUNs (409 while it has sessions, unless force=true logs them out)',
        params: IqnParams,
        querystring: ForceQuery,
        response: { 204: z.null(), ...problemResponses(404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { iqn } = req.params;
      await writeResource(control, req, {
        what: `target ${iqn}`,
        current: (d) => findTarget(d, iqn),
        edit: (draft) => {
          const sessions = sessionsOf(iqn).length;
          if (sessions > 0 && !req.query.force) {
            throw new ApiProblem('conflict', `target ${iqn} has ${sessions} session(s); delete with force=true to log them out`);
          }
          draft.targets.splice(draft.targets.indexOf(targetOf(draft, iqn)), 1);
        },
      });
      log.info({ target: iqn, graceMs: GRACE_MS }, 'admin API: target deleted');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/targets/:iqn/luns',
    { schema: { tags: ['luns'], summary: "A target's LUNs", params: IqnParams, response: { 200: z.array(LunViewSchema), ...problemResponses(404) } } },
    async (req) => {
      const t = findTarget(control.desired, req.params.iqn);
      if (!t) throw new ApiProblem('not-found', `target ${req.params.iqn} does not exist`);
      return t.luns.map(lunView);
    },
  );

  const lunOf = (iqn: string, lun: number) => (d: typeof control.desired) => findTarget(d, iqn)?.luns.find((l) => l.lun === lun);

  app.get(
    '/targets/:iqn/luns/:lun',
    { schema: { tags: ['luns'], summary: 'One LUN', params: LunParams, response: { 200: LunViewSchema, ...problemResponses(404) } } },
    async (req, reply) =>
      sendRead(reply, control, lunOf(req.params.iqn, req.params.lun)(control.desired), `LUN ${req.params.lun} of ${req.params.iqn}`, lunView),
  );

  app.put(
    '/targets/:iqn/luns/:lun',
    {
      schema: {
        tags: ['luns'],
        summary: 'Add a LUN or converge it (a grown size resizes it live; a changed backstore or setting replaces the LU)',
        params: LunParams,
        body: LunBody,
        response: { 200: writeAnswer(LunViewSchema), 201: writeAnswer(LunViewSchema), ...problemResponses(404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { iqn, lun } = req.params;
      const outcome = await writeResource(control, req, {
        what: `LUN ${lun} of ${iqn}`,
        creates: true,
        current: lunOf(iqn, lun),
        edit: (draft) => putLun(draft, iqn, lun, req.body),
      });
      log.info({ target: iqn, lun, created: outcome.created, steps: outcome.change.steps }, 'admin API: LUN put');
      return sendWrite(reply, outcome, lunView);
    },
  );

  app.patch(
    '/targets/:iqn/luns/:lun',
    {
      schema: {
        tags: ['luns'],
        summary: 'Change some of a LUN (JSON merge patch); {"backstore":{"size":"20G"}} grows an inline backstore live',
        params: LunParams,
        body: MergePatch,
        response: { 200: writeAnswer(LunViewSchema), ...problemResponses(404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { iqn, lun } = req.params;
      const outcome = await writeResource(control, req, {
        what: `LUN ${lun} of ${iqn}`,
        current: lunOf(iqn, lun),
        edit: (draft, existing) => {
          const merged = LunBody.safeParse(mergePatch(lunBodyOf(existing!), req.body));
          if (!merged.success) throw patchProblem(merged.error);
          putLun(draft, iqn, lun, merged.data);
        },
      });
      log.info({ target: iqn, lun, steps: outcome.change.steps }, 'admin API: LUN patched');
      return sendWrite(reply, outcome, lunView);
    },
  );

  app.delete(
    '/targets/:iqn/luns/:lun',
    {
      schema: {
        tags: ['luns'],
        summary: 'Remove a LUN (its commands end; initiators see REPORTED LUNS DATA HAS CHANGED); its data stays in the backstore',
        params: LunParams,
        response: { 204: z.null(), ...problemResponses(404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { iqn, lun } = req.params;
      await writeResource(control, req, {
        what: `LUN ${lun} of ${iqn}`,
        current: lunOf(iqn, lun),
        edit: (draft) => {
          const target = targetOf(draft, iqn);
          target.luns = (target.luns ?? []).filter((l) => l.lun !== lun);
          // An ACL that maps the LUN explicitly would no longer validate: the mapping goes with it.
          for (const acl of target.acls ?? []) if (acl.luns) acl.luns = acl.luns.filter((m) => m.lun !== lun);
        },
      });
      log.info({ target: iqn, lun }, 'admin API: LUN removed');
      return reply.code(204).send(null);
    },
  );
};

/** A merge patch that does not give a valid resource: a 400 naming the fields, as the body's would. */
export function patchProblem(error: z.ZodError): ApiProblem {
  const errors = error.issues.map((i) => ({ path: `body.${i.path.join('.')}`, rule: i.code, message: i.message }));
  return new ApiProblem('validation', `the patched resource does not validate: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors });
}

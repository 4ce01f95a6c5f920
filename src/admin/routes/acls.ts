/** /v1/targets/{iqn}/acls: which initiators may log in to a target, with what auth, seeing which LUNs. */
import { z } from 'zod';
import { AuthSchema } from '../../config/schema/auth.js';
import type { Config } from '../../config/schema.js';
import type { AdminRoutes } from '../app.js';
import { ApiProblem, problemResponses } from '../problem.js';
import type { Draft } from '../resources/draft.js';
import { AclViewSchema, aclView, findTarget } from '../resources/views.js';
import { mergePatch, sendRead, sendWrite, writeAnswer, writeResource } from '../resources/write.js';
import { patchProblem } from './targets.js';

const AclParams = z.object({ iqn: z.string(), initiator: z.string().describe('initiator iSCSI name (case-insensitive)') });
/** The shape of an ACL; its cross-checks (LUNs of the target, unique `as`) run on the whole config. */
const AclBody = z
  .strictObject({
    initiator: z.string().optional().describe('if given, must equal the name in the path'),
    auth: AuthSchema.optional().describe("this initiator's own CHAP, instead of the target's"),
    luns: z
      .array(z.strictObject({ lun: z.number().int(), as: z.number().int().optional(), readOnly: z.boolean().optional() }))
      .optional()
      .describe("the target's LUNs it sees (as: the number it sees; default all, under their own numbers)"),
  })
  .meta({ id: 'AclSettings' });
const MergePatch = z.record(z.string(), z.unknown()).describe('JSON merge patch (RFC 7396)');

const aclOf = (iqn: string, initiator: string) => (d: Config) =>
  findTarget(d, iqn)?.acls.find((a) => a.initiator.toLowerCase() === initiator.toLowerCase());

/** Puts the ACL in place; the first ACL of a target switches it from allowAnyInitiator to ACL mode. */
function putAcl(draft: Draft, iqn: string, initiator: string, body: Record<string, unknown>): void {
  const target = draft.target(iqn);
  if (!target) throw new ApiProblem('not-found', `target ${iqn} does not exist`);
  if (typeof body.initiator === 'string' && body.initiator.toLowerCase() !== initiator.toLowerCase()) {
    throw new ApiProblem('conflict', `the body names initiator ${body.initiator}, the path ${initiator}`);
  }
  const acls = target.acls ?? [];
  const next = { ...body, initiator: initiator.toLowerCase() } as (typeof acls)[number];
  const at = acls.findIndex((a) => a.initiator.toLowerCase() === initiator.toLowerCase());
  if (at >= 0) acls[at] = next;
  else acls.push(next);
  target.acls = acls;
  target.allowAnyInitiator = false;
}

export const aclRoutes: AdminRoutes = (app, { control, log }) => {
  app.get(
    '/targets/:iqn/acls',
    { schema: { tags: ['acls'], summary: "A target's ACLs", params: z.object({ iqn: z.string() }), response: { 200: z.array(AclViewSchema), ...problemResponses(404) } } },
    async (req) => {
      const t = findTarget(control.desired, req.params.iqn);
      if (!t) throw new ApiProblem('not-found', `target ${req.params.iqn} does not exist`);
      return t.acls.map(aclView);
    },
  );

  app.get(
    '/targets/:iqn/acls/:initiator',
    { schema: { tags: ['acls'], summary: 'One ACL (secrets redacted)', params: AclParams, response: { 200: AclViewSchema, ...problemResponses(404) } } },
    async (req, reply) => {
      const { iqn, initiator } = req.params;
      return sendRead(reply, control, aclOf(iqn, initiator)(control.desired), `ACL ${initiator} of ${iqn}`, aclView);
    },
  );

  app.put(
    '/targets/:iqn/acls/:initiator',
    {
      schema: {
        tags: ['acls'],
        summary: 'Let an initiator log in (its own CHAP optional; LUNs it sees, mapped and read-only optional); the first ACL ends allowAnyInitiator',
        params: AclParams,
        body: AclBody,
        response: { 200: writeAnswer(AclViewSchema), 201: writeAnswer(AclViewSchema), ...problemResponses(404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { iqn, initiator } = req.params;
      const outcome = await writeResource(control, req, {
        what: `ACL ${initiator} of ${iqn}`,
        creates: true,
        current: aclOf(iqn, initiator),
        edit: (draft) => putAcl(draft, iqn, initiator, req.body),
      });
      log.info({ target: iqn, initiator, created: outcome.created, steps: outcome.change.steps }, 'admin API: ACL put');
      return sendWrite(reply, outcome, aclView);
    },
  );

  app.patch(
    '/targets/:iqn/acls/:initiator',
    {
      schema: {
        tags: ['acls'],
        summary: 'Change an ACL (JSON merge patch); live sessions see their new LUN map at once (REPORTED LUNS DATA HAS CHANGED)',
        params: AclParams,
        body: MergePatch,
        response: { 200: writeAnswer(AclViewSchema), ...problemResponses(404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { iqn, initiator } = req.params;
      const outcome = await writeResource(control, req, {
        what: `ACL ${initiator} of ${iqn}`,
        current: aclOf(iqn, initiator),
        edit: (draft, existing) => {
          const merged = AclBody.safeParse(mergePatch({ ...existing! }, req.body));
          if (!merged.success) throw patchProblem(merged.error);
          putAcl(draft, iqn, initiator, merged.data);
        },
      });
      log.info({ target: iqn, initiator, steps: outcome.change.steps }, 'admin API: ACL patched');
      return sendWrite(reply, outcome, aclView);
    },
  );

  app.delete(
    '/targets/:iqn/acls/:initiator',
    {
      schema: {
        tags: ['acls'],
        summary: "Remove an initiator's access: its sessions are asked to log out, then closed",
        params: AclParams,
        response: { 204: z.null(), ...problemResponses(404, 412) },
      },
    },
    async (req, reply) => {
      const { iqn, initiator } = req.params;
      await writeResource(control, req, {
        what: `ACL ${initiator} of ${iqn}`,
        current: aclOf(iqn, initiator),
        edit: (draft) => {
          const target = draft.target(iqn)!;
          target.acls = (target.acls ?? []).filter((a) => a.initiator.toLowerCase() !== initiator.toLowerCase());
        },
      });
      log.info({ target: iqn, initiator }, 'admin API: ACL removed');
      return reply.code(204).send(null);
    },
  );
};

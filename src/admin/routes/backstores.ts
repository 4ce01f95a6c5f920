/** /v1/backstores: named storage (file, block device, null) that a LUN uses by name. */
import { z } from 'zod';
import { NamedBackstoreSchema } from '../../config/schema/backstore.js';
import type { Config, NamedBackstoreConfig } from '../../config/schema.js';
import type { AdminRoutes } from '../app.js';
import { ApiProblem, problemResponses } from '../problem.js';
import type { BackstoreInput, Draft } from '../resources/draft.js';
import { BackstoreViewSchema, backstoreView, userOf } from '../resources/views.js';
import { ForceQuery, mergePatch, sendRead, sendWrite, writeAnswer, writeResource } from '../resources/write.js';

const NameParams = z.object({ name: z.string() });
const BackstoreBody = z
  .record(z.string(), z.unknown())
  .describe('{ type: file, path, size, blockSize?, writeCache?, direct?, thin?, physicalBlockSize?, create? } | { type: null, size, blockSize? } | { type: block, path, writeCache? }; sizes as bytes or "10G"')
  .meta({ id: 'BackstoreSettings' });

/** What cannot change under a LUN's data: another kind of storage, another file, another block size. */
const IMMUTABLE = ['type', 'path', 'blockSize'] as const;

const backstoreOf = (name: string) => (d: Config) => d.backstores.find((b) => b.name === name);

function putBackstore(draft: Draft, name: string, body: Record<string, unknown>, existing: NamedBackstoreConfig | undefined): void {
  if (body.name !== undefined && body.name !== name) throw new ApiProblem('conflict', `the body names backstore ${String(body.name)}, the path ${name}`);
  const next = { ...body, name } as BackstoreInput;
  if (existing) {
    // Compare as validated (paths resolved, defaults filled) so that "./x.img" equals "/abs/x.img".
    const parsed = NamedBackstoreSchema.safeParse(next);
    if (parsed.success) {
      const now = parsed.data as Record<string, unknown>;
      const was = existing as Record<string, unknown>;
      for (const key of IMMUTABLE) {
        if (now[key] !== was[key]) {
          throw new ApiProblem('conflict', `backstore ${name}: ${key} cannot change (${String(was[key])} -> ${String(now[key])}); create another backstore`);
        }
      }
    }
    draft.backstores.splice(draft.backstores.indexOf(draft.backstore(name)!), 1, next);
  } else {
    draft.backstores.push(next);
  }
}

export const backstoreRoutes: AdminRoutes = (app, { control, log }) => {
  app.get(
    '/backstores',
    { schema: { tags: ['backstores'], summary: 'Named backstores, with the LUN using each', response: { 200: z.array(BackstoreViewSchema), ...problemResponses() } } },
    async () => control.desired.backstores.map((b) => backstoreView(control.desired, b)),
  );

  app.get(
    '/backstores/:name',
    { schema: { tags: ['backstores'], summary: 'One backstore', params: NameParams, response: { 200: BackstoreViewSchema, ...problemResponses(404) } } },
    async (req, reply) =>
      sendRead(reply, control, backstoreOf(req.params.name)(control.desired), `backstore ${req.params.name}`, (b) => backstoreView(control.desired, b)),
  );

  app.put(
    '/backstores/:name',
    {
      schema: {
        tags: ['backstores'],
        summary: 'Create a backstore or converge it (a larger size grows the LUN using it, live; type, path and blockSize cannot change)',
        params: NameParams,
        body: BackstoreBody,
        response: { 200: writeAnswer(BackstoreViewSchema), 201: writeAnswer(BackstoreViewSchema), ...problemResponses(404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { name } = req.params;
      const outcome = await writeResource(control, req, {
        what: `backstore ${name}`,
        creates: true,
        current: backstoreOf(name),
        edit: (draft, existing) => putBackstore(draft, name, req.body, existing),
      });
      log.info({ backstore: name, created: outcome.created, steps: outcome.change.steps }, 'admin API: backstore put');
      return sendWrite(reply, outcome, (b) => backstoreView(control.desired, b));
    },
  );

  app.patch(
    '/backstores/:name',
    {
      schema: {
        tags: ['backstores'],
        summary: 'Change a backstore (JSON merge patch), e.g. {"size":"20G"} to grow it live',
        params: NameParams,
        body: BackstoreBody,
        response: { 200: writeAnswer(BackstoreViewSchema), ...problemResponses(404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { name } = req.params;
      const outcome = await writeResource(control, req, {
        what: `backstore ${name}`,
        current: backstoreOf(name),
        edit: (draft, existing) => putBackstore(draft, name, mergePatch({ ...existing }, req.body) as Record<string, unknown>, existing),
      });
      log.info({ backstore: name, steps: outcome.change.steps }, 'admin API: backstore patched');
      return sendWrite(reply, outcome, (b) => backstoreView(control.desired, b));
    },
  );

  app.delete(
    '/backstores/:name',
    {
      schema: {
        tags: ['backstores'],
        summary: 'Delete a backstore (409 while a LUN uses it, unless force=true removes that LUN too); its file is left on disk',
        params: NameParams,
        querystring: ForceQuery,
        response: { 204: z.null(), ...problemResponses(404, 409, 412) },
      },
    },
    async (req, reply) => {
      const { name } = req.params;
      await writeResource(control, req, {
        what: `backstore ${name}`,
        current: backstoreOf(name),
        edit: (draft, _existing, desired) => {
          const user = userOf(desired, name);
          if (user && !req.query.force) {
            throw new ApiProblem('conflict', `backstore ${name} is LUN ${user.lun} of ${user.target}; remove that LUN first, or delete with force=true`);
          }
          if (user) {
            const target = draft.target(user.target)!;
            target.luns = (target.luns ?? []).filter((l) => l.lun !== user.lun);
            for (const acl of target.acls ?? []) if (acl.luns) acl.luns = acl.luns.filter((m) => m.lun !== user.lun);
          }
          draft.backstores.splice(draft.backstores.indexOf(draft.backstore(name)!), 1);
        },
      });
      log.info({ backstore: name }, 'admin API: backstore deleted');
      return reply.code(204).send(null);
    },
  );
};

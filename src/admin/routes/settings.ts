/** /v1/portals, /v1/discovery-auth, /v1/iscsi: where Scatter listens and what it negotiates. */
import { isIP } from 'node:net';
import { z } from 'zod';
import { AuthSchema } from '../../config/schema/auth.js';
import type { Config } from '../../config/schema.js';
import type { AdminRoutes } from '../app.js';
import { ApiProblem, problemResponses } from '../problem.js';
import { redactAuth } from '../resources/redact.js';
import { AuthViewSchema } from '../resources/views.js';
import { mergePatch, sendRead, sendWrite, writeAnswer, writeResource } from '../resources/write.js';

const PortalSchema = z.object({ host: z.string(), port: z.number().int() }).meta({ id: 'Portal' });
const PortalParams = z.object({ portal: z.string().describe('host:port, IPv6 in brackets ([::1]:3260), URL-encoded') });
const IscsiViewSchema = z.record(z.string(), z.unknown()).describe('the iscsi section of the config, without portals').meta({ id: 'IscsiSettings' });

/** `127.0.0.1:3260`, `[::1]:3260`. */
function parsePortal(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || isIP(host) === 0 || !(port >= 1 && port <= 65535)) {
    throw new ApiProblem('validation', `portal ${JSON.stringify(text)}: must be host:port with an IP address (IPv6 as [::1]:3260)`, {
      errors: [{ path: 'params.portal', rule: 'format', message: 'must be host:port' }],
    });
  }
  return { host, port };
}

const samePortal = (a: { host: string; port: number }, b: { host: string; port: number }) =>
  a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port;

function iscsiView(c: Config): Record<string, unknown> {
  const { portals: _p, ...rest } = c.iscsi;
  return rest;
}

export const settingsRoutes: AdminRoutes = (app, { control, log }) => {
  const portalOf = (text: string) => (d: Config) => {
    const p = parsePortal(text);
    return d.iscsi.portals.find((q) => samePortal(p, q));
  };

  app.get(
    '/portals',
    { schema: { tags: ['portals'], summary: 'Addresses the iSCSI target listens on', response: { 200: z.array(PortalSchema), ...problemResponses() } } },
    async () => control.desired.iscsi.portals.map((p) => ({ ...p })),
  );

  app.put(
    '/portals/:portal',
    {
      schema: {
        tags: ['portals'],
        summary: 'Listen on one more address, live (409 apply-failed when it cannot be bound)',
        params: PortalParams,
        response: { 200: writeAnswer(PortalSchema), 201: writeAnswer(PortalSchema), ...problemResponses(409, 412) },
      },
    },
    async (req, reply) => {
      const portal = parsePortal(req.params.portal);
      const outcome = await writeResource(control, req, {
        what: `portal ${req.params.portal}`,
        creates: true,
        current: portalOf(req.params.portal),
        edit: (draft, existing) => {
          if (!existing) draft.iscsi.portals = [...(draft.iscsi.portals ?? []), portal];
        },
      });
      log.info({ portal: req.params.portal, steps: outcome.change.steps }, 'admin API: portal put');
      return sendWrite(reply, outcome, (p) => ({ ...p }));
    },
  );

  app.delete(
    '/portals/:portal',
    {
      schema: {
        tags: ['portals'],
        summary: 'Stop listening on an address; connections that came in through it are dropped',
        params: PortalParams,
        response: { 204: z.null(), ...problemResponses(404, 409, 412) },
      },
    },
    async (req, reply) => {
      const portal = parsePortal(req.params.portal);
      await writeResource(control, req, {
        what: `portal ${req.params.portal}`,
        current: portalOf(req.params.portal),
        edit: (draft) => {
          const left = (draft.iscsi.portals ?? []).filter((p) => !samePortal(p as { host: string; port: number }, portal));
          if (left.length === 0) throw new ApiProblem('conflict', 'the last portal cannot be removed: add another first');
          draft.iscsi.portals = left;
        },
      });
      log.info({ portal: req.params.portal }, 'admin API: portal removed');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/discovery-auth',
    { schema: { tags: ['discovery'], summary: 'Authentication of SendTargets discovery sessions (secrets redacted)', response: { 200: AuthViewSchema, ...problemResponses() } } },
    async (_req, reply) => sendRead(reply, control, control.desired.discoveryAuth, 'discovery auth', redactAuth),
  );

  app.put(
    '/discovery-auth',
    {
      schema: {
        tags: ['discovery'],
        summary: 'Set discovery authentication (none or CHAP); the next discovery login uses it',
        body: AuthSchema,
        response: { 200: writeAnswer(AuthViewSchema), ...problemResponses(412) },
      },
    },
    async (req, reply) => {
      const outcome = await writeResource(control, req, {
        what: 'discovery auth',
        current: (d) => d.discoveryAuth,
        edit: (draft) => (draft.discoveryAuth = req.body),
      });
      log.info({ method: req.body.method }, 'admin API: discovery auth set');
      return sendWrite(reply, outcome, redactAuth);
    },
  );

  app.get(
    '/iscsi',
    { schema: { tags: ['iscsi'], summary: 'iSCSI parameters and resource limits', response: { 200: IscsiViewSchema, ...problemResponses() } } },
    async (_req, reply) => sendRead(reply, control, iscsiView(control.desired), 'iscsi settings', (v) => v),
  );

  app.patch(
    '/iscsi',
    {
      schema: {
        tags: ['iscsi'],
        summary: 'Change iSCSI parameters (JSON merge patch); negotiation keys apply to the next login, the others after a restart (see change.needsRestart)',
        body: z.record(z.string(), z.unknown()),
        response: { 200: writeAnswer(IscsiViewSchema), ...problemResponses(409, 412) },
      },
    },
    async (req, reply) => {
      if ('portals' in req.body) throw new ApiProblem('validation', 'portals are changed through /v1/portals', { errors: [{ path: 'body.portals', rule: 'not_allowed', message: 'use /v1/portals' }] });
      const outcome = await writeResource(control, req, {
        what: 'iscsi settings',
        current: iscsiView,
        edit: (draft) => {
          // A patch that is an object merges into an object; the whole config is validated after.
          draft.iscsi = mergePatch(draft.iscsi, req.body) as typeof draft.iscsi;
        },
      });
      log.info({ keys: Object.keys(req.body), steps: outcome.change.steps, needsRestart: outcome.change.needsRestart }, 'admin API: iscsi settings patched');
      return sendWrite(reply, outcome, (v) => v);
    },
  );
};

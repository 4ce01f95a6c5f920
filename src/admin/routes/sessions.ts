/** GET /v1/sessions, GET /v1/sessions/{id}, DELETE /v1/sessions/{id}: the logged-in iSCSI sessions. */
import { z } from 'zod';
import { sessionInfo, type SessionInfo } from '../../iscsi/session-info.js';
import type { AdminRoutes } from '../app.js';
import { ApiProblem, problemResponses } from '../problem.js';

const Digest = z.enum(['CRC32C', 'None']);

const ConnectionSchema = z.object({
  cid: z.number().int(),
  localAddress: z.string(),
  localPort: z.number().int(),
  remoteAddress: z.string(),
  remotePort: z.number().int(),
  headerDigest: Digest,
  dataDigest: Digest,
});

const ParamsSchema = z
  .object({
    targetMaxRecvDataSegmentLength: z.number().int().describe('largest data segment the target takes'),
    initiatorMaxRecvDataSegmentLength: z.number().int().describe('largest data segment the target sends'),
    maxBurstLength: z.number().int(),
    firstBurstLength: z.number().int(),
    immediateData: z.boolean(),
    initialR2T: z.boolean(),
    maxOutstandingR2T: z.number().int(),
    maxConnections: z.number().int(),
    defaultTime2Wait: z.number().int(),
    defaultTime2Retain: z.number().int(),
    dataPduInOrder: z.boolean(),
    dataSequenceInOrder: z.boolean(),
    errorRecoveryLevel: z.number().int(),
  })
  .describe('operational parameters the login negotiated (RFC 7143 §13)');

export const SessionSchema = z
  .object({
    id: z.number().int().describe('the TSIH: what /v1/sessions/{id} takes'),
    tsih: z.number().int(),
    initiatorName: z.string(),
    initiatorAlias: z.string().nullable(),
    isid: z.string().describe('12 hex digits'),
    target: z.string().nullable().describe('target IQN; null for a discovery session'),
    sessionType: z.enum(['Normal', 'Discovery']),
    sourceAddress: z.string(),
    sourcePort: z.number().int(),
    loggedInAt: z.string().describe('ISO 8601'),
    ageSeconds: z.number().int(),
    connections: z.array(ConnectionSchema),
    params: ParamsSchema,
    counters: z.object({
      commands: z.number().int().describe('SCSI commands answered'),
      readBytes: z.number().int().describe('Data-In bytes sent'),
      writtenBytes: z.number().int().describe('write data received'),
    }),
    tasksInFlight: z.number().int(),
  })
  .meta({ id: 'Session' });

const IdParams = z.object({ id: z.coerce.number().int().min(1).max(0xffff).describe('TSIH') });

function toJson(info: SessionInfo, now: number): z.output<typeof SessionSchema> {
  const { params: p } = info;
  return {
    id: info.tsih,
    tsih: info.tsih,
    initiatorName: info.initiatorName,
    initiatorAlias: info.initiatorAlias ?? null,
    isid: info.isid,
    target: info.target ?? null,
    sessionType: info.sessionType,
    sourceAddress: info.sourceAddress,
    sourcePort: info.sourcePort,
    loggedInAt: new Date(info.loggedInAt).toISOString(),
    ageSeconds: Math.max(0, Math.floor((now - info.loggedInAt) / 1000)),
    connections: [...info.connections],
    params: {
      targetMaxRecvDataSegmentLength: p.maxRecvDataSegmentLength,
      initiatorMaxRecvDataSegmentLength: p.maxXmitDataSegmentLength,
      maxBurstLength: p.maxBurstLength,
      firstBurstLength: p.firstBurstLength,
      immediateData: p.immediateData,
      initialR2T: p.initialR2T,
      maxOutstandingR2T: p.maxOutstandingR2T,
      maxConnections: p.maxConnections,
      defaultTime2Wait: p.defaultTime2Wait,
      defaultTime2Retain: p.defaultTime2Retain,
      dataPduInOrder: p.dataPduInOrder,
      dataSequenceInOrder: p.dataSequenceInOrder,
      errorRecoveryLevel: p.errorRecoveryLevel,
    },
    counters: { ...info.counters },
    tasksInFlight: info.tasksInFlight,
  };
}

export const sessionRoutes: AdminRoutes = (app, { iscsi, log }) => {
  const find = (id: number): SessionInfo => {
    const session = iscsi.sessions.get(id);
    if (session === undefined) throw new ApiProblem('not-found', `no session with TSIH ${id}`);
    return sessionInfo(session);
  };

  app.get(
    '/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Every logged-in session',
        response: { 200: z.object({ sessions: z.array(SessionSchema) }), ...problemResponses() },
      },
    },
    () => {
      const now = Date.now();
      return { sessions: iscsi.sessions.all().map((s) => toJson(sessionInfo(s), now)) };
    },
  );

  app.get(
    '/sessions/:id',
    {
      schema: { tags: ['sessions'], summary: 'One session', params: IdParams, response: { 200: SessionSchema, ...problemResponses(404) } },
    },
    (req) => toJson(find(req.params.id), Date.now()),
  );

  app.delete(
    '/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Log a session out',
        description:
          'Sends the initiator an Async Message asking it to log out within the grace period, then closes the session if it is still there. Answers 202 at once: the session ends within graceMs.',
        params: IdParams,
        querystring: z.object({ graceMs: z.coerce.number().int().min(0).max(60_000).default(2000).describe('time the initiator gets to log out') }),
        response: {
          202: z.object({ id: z.number().int(), logoutRequested: z.literal(true), closesWithinMs: z.number().int() }),
          ...problemResponses(404),
        },
      },
    },
    async (req, reply) => {
      const info = find(req.params.id);
      const graceMs = req.query.graceMs;
      iscsi.logoutSession(info.tsih, graceMs);
      log.info({ tsih: info.tsih, initiator: info.initiatorName, graceMs, by: req.ip }, 'admin API: session logout requested');
      return reply.code(202).send({ id: info.tsih, logoutRequested: true as const, closesWithinMs: graceMs });
    },
  );
};

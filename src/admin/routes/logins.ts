/** GET /v1/logins: the last login attempts per initiator, with the reason of each failure. */
import { z } from 'zod';
import type { AdminRoutes } from '../app.js';
import { problemResponses } from '../problem.js';

export const LoginAttemptSchema = z
  .object({
    at: z.string().describe('ISO 8601'),
    initiatorName: z.string().nullable().describe('null when the login failed before naming one'),
    sourceAddress: z.string(),
    sourcePort: z.number().int(),
    target: z.string().nullable(),
    sessionType: z.enum(['Normal', 'Discovery']).nullable(),
    outcome: z.enum(['success', 'failure']),
    reason: z.string().optional().describe('failure: stable label (target_not_found, not_in_acl, chap_wrong_secret, ...)'),
    detail: z.string().optional().describe('failure: what exactly was wrong'),
    tsih: z.number().int().optional().describe('success: the session'),
  })
  .meta({ id: 'LoginAttempt' });

export const loginRoutes: AdminRoutes = (app, { iscsi }) => {
  app.get(
    '/logins',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Recent login attempts, newest first',
        description: `The last ${iscsi.loginLog.perInitiator} attempts of each of at most ${iscsi.loginLog.maxInitiators} initiator names.`,
        querystring: z.object({
          initiator: z.string().max(300).optional().describe('only this initiator name (case-insensitive)'),
          outcome: z.enum(['success', 'failure']).optional(),
        }),
        response: { 200: z.object({ logins: z.array(LoginAttemptSchema) }), ...problemResponses() },
      },
    },
    (req) => {
      const { initiator, outcome } = req.query;
      const wanted = initiator?.toLowerCase();
      const logins = iscsi.loginLog
        .all()
        .filter((a) => (wanted === undefined || a.initiatorName?.toLowerCase() === wanted) && (outcome === undefined || a.outcome === outcome))
        .map((a) => ({
          at: new Date(a.at).toISOString(),
          initiatorName: a.initiatorName ?? null,
          sourceAddress: a.sourceAddress,
          sourcePort: a.sourcePort,
          target: a.target ?? null,
          sessionType: a.sessionType ?? null,
          outcome: a.outcome,
          ...(a.reason === undefined ? {} : { reason: a.reason }),
          ...(a.detail === undefined ? {} : { detail: a.detail }),
          ...(a.tsih === undefined ? {} : { tsih: a.tsih }),
        }));
      return { logins };
    },
  );
};

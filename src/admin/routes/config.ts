/** /v1/config: the whole desired config (secrets redacted), replaced whole (with a dry run), and its backups. */
import { z } from 'zod';
import { toFileForm } from '../../config/file-form.js';
import { ConfigError, validateConfig } from '../../config/load.js';
import type { AdminRoutes } from '../app.js';
import { ApiProblem, problemResponses } from '../problem.js';
import { redactSecrets } from '../resources/redact.js';
import { ChangeSchema, asProblem, changeJson } from '../resources/write.js';

const ConfigView = z
  .object({
    revision: z.string(),
    config: z.record(z.string(), z.unknown()).describe('the config in file form; CHAP secrets replaced by secretSet / mutualSecretSet'),
    pendingRestart: z.array(z.string()).describe('configured changes that take effect at the next restart'),
  })
  .meta({ id: 'ConfigView' });

const DryRunQuery = z.object({ dryRun: z.enum(['true', 'false']).default('false').transform((v) => v === 'true') });

export const configRoutes: AdminRoutes = (app, { control, log }) => {
  app.get(
    '/config',
    { schema: { tags: ['config'], summary: 'The whole config with its revision (ETag)', response: { 200: ConfigView, ...problemResponses() } } },
    async (_req, reply) => {
      void reply.header('etag', `"${control.revision}"`);
      return {
        revision: control.revision,
        config: redactSecrets(toFileForm(control.desired)) as Record<string, unknown>,
        pendingRestart: [...control.pendingRestart],
      };
    },
  );

  app.put(
    '/config',
    {
      schema: {
        tags: ['config'],
        summary: 'Replace the whole config (as a file would hold it), all or nothing; dryRun=true only returns the plan',
        querystring: DryRunQuery,
        body: z.record(z.string(), z.unknown()).describe('the config, as in config/scatter.yaml (JSON)'),
        response: { 200: z.object({ change: ChangeSchema }), ...problemResponses(409, 412) },
      },
    },
    async (req, reply) => {
      const ifMatch = req.headers['if-match'];
      let result;
      try {
        result = await control.change(
          (desired) => {
            if (ifMatch !== undefined && ifMatch !== '*' && ifMatch.replace(/^W\//, '') !== `"${control.revisions.of(toFileForm(desired))}"`) {
              throw new ApiProblem('precondition-failed', `If-Match ${ifMatch}: the config is at "${control.revision}"`);
            }
            try {
              return validateConfig(req.body, 'body');
            } catch (err) {
              if (!(err instanceof ConfigError)) throw err;
              const errors = err.issues.map((i) => ({ path: `body.${i.path}`, rule: 'config', message: i.message }));
              throw new ApiProblem('validation', `the config does not validate (${errors.length} problem(s)): ${errors[0]?.path}: ${errors[0]?.message}`, { errors });
            }
          },
          { dryRun: req.query.dryRun, reapply: true },
        );
      } catch (err) {
        throw asProblem(err);
      }
      if (!result.dryRun) log.info({ revision: result.revision, steps: result.steps, needsRestart: result.needsRestart }, 'admin API: config replaced');
      void reply.header('etag', `"${control.revision}"`);
      return { change: changeJson(result) };
    },
  );

  app.get(
    '/config/backups',
    {
      schema: {
        tags: ['config'],
        summary: 'The previous versions of the config file kept beside it, newest first',
        response: { 200: z.array(z.object({ name: z.string(), time: z.string(), size: z.number().int() })), ...problemResponses() },
      },
    },
    async () => (await control.backups()).map((b) => ({ name: b.name, time: b.time.toISOString(), size: b.size })),
  );
};

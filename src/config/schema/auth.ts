/** Authentication of a session: none, or CHAP (one-way or mutual) with the algorithms offered. */
import { z } from 'zod';
import { CHAP_ALGORITHMS, type ChapAlgorithm } from '../../shared/chap-algorithms.js';
import { hasControlCharacters, reportDuplicates } from './fields.js';

const ChapUserSchema = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .refine((user) => Buffer.byteLength(user, 'utf8') <= 255, 'must be at most 255 bytes')
  .refine((user) => !hasControlCharacters(user), 'must not contain control characters');

/**
 * At least 12 bytes: RFC 7143 §12.1.3 requires 96-bit secrets when CHAP runs
 * without IPsec, and open-iscsi and Windows refuse shorter ones.
 */
const ChapSecretSchema = z
  .string({ error: 'must be a string' })
  .refine((secret) => Buffer.byteLength(secret, 'utf8') >= 12, 'must be at least 12 bytes (RFC 7143 §12.1.3)')
  .refine((secret) => Buffer.byteLength(secret, 'utf8') <= 255, 'must be at most 255 bytes');

const ChapAlgorithmSchema = z.literal([5, 6, 7, 8], {
  error: 'must be 5 (MD5), 6 (SHA-1), 7 (SHA-256) or 8 (SHA3-256)',
});

const AuthNoneSchema = z.strictObject({ method: z.literal('none') });

const AuthChapSchema = z
  .strictObject({
    method: z.literal('chap'),
    user: ChapUserSchema,
    secret: ChapSecretSchema,
    mutualUser: ChapUserSchema.optional(),
    mutualSecret: ChapSecretSchema.optional(),
    algorithms: z
      .array(ChapAlgorithmSchema)
      .min(1, 'must list at least one algorithm')
      .default((): ChapAlgorithm[] => [...CHAP_ALGORITHMS]),
  })
  .superRefine((auth, ctx) => {
    if (auth.mutualUser !== undefined && auth.mutualSecret === undefined) {
      ctx.addIssue({ code: 'custom', path: ['mutualSecret'], message: 'is required when mutualUser is set' });
    }
    if (auth.mutualSecret !== undefined && auth.mutualUser === undefined) {
      ctx.addIssue({ code: 'custom', path: ['mutualUser'], message: 'is required when mutualSecret is set' });
    }
    if (auth.mutualSecret !== undefined && auth.mutualSecret === auth.secret) {
      // RFC 7143 §12.1.3: a secret used to authenticate initiators must not authenticate targets.
      ctx.addIssue({ code: 'custom', path: ['mutualSecret'], message: 'must differ from secret' });
    }
    reportDuplicates(auth.algorithms, (index, algorithm) =>
      ctx.addIssue({ code: 'custom', path: ['algorithms', index], message: `duplicate algorithm ${algorithm}` }),
    );
  });

export const AuthSchema = z.discriminatedUnion('method', [AuthNoneSchema, AuthChapSchema]);

export type AuthConfig = z.output<typeof AuthSchema>;

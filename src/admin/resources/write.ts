/**
 * What every write of a resource does: check If-Match / If-None-Match against the resource as it
 * is when the change runs (changes are serialised, so no other write slips in between), edit a
 * draft of the desired config, hand it to the control plane, and turn its refusals into problems.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ConfigFileChangedError } from '../../config/config-file.js';
import { ScatterError, type ErrorCode } from '../../shared/errors.js';
import type { Config } from '../../config/schema.js';
import { ApplyError } from '../../control/apply.js';
import { PersistError, PinnedChangeError, RefusedChangeError, type ChangeResult, type ControlPlane } from '../../control/control-plane.js';
import { ApiProblem } from '../problem.js';
import { Draft } from './draft.js';

export const ChangeSchema = z
  .object({
    revision: z.string().describe('revision of the whole config after the change'),
    changed: z.boolean().describe('false: the config already was so (an idempotent PUT)'),
    dryRun: z.boolean(),
    steps: z.array(z.string()).describe('what was done to the running target, in order'),
    needsRestart: z.array(z.string()).describe('written to the config, in effect after a restart'),
    warnings: z.array(z.string()),
  })
  .meta({ id: 'Change' });

/** A write's answer: the resource as it now is, and what the change did. */
export function writeAnswer<T extends z.ZodType>(resource: T) {
  return z.object({ resource, change: ChangeSchema });
}

export const ForceQuery = z.object({
  force: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe('true: log sessions out / remove what depends on it, instead of answering 409'),
});

export interface WriteSpec<R> {
  /** The resource in the desired config (secrets included: its tag covers them); undefined: it does not exist. */
  current(desired: Config): R | undefined;
  /** Edit the draft; throw an ApiProblem to refuse. `existing` is current(desired). */
  edit(draft: Draft, existing: R | undefined, desired: Config): void;
  /** A PUT creates what is missing; PATCH and DELETE need it to exist. */
  readonly creates?: boolean;
  /** Named in a 404: `target iqn.x`. */
  readonly what: string;
}

export interface WriteOutcome<R> {
  readonly created: boolean;
  readonly change: ChangeResult;
  /** The resource after the change (undefined once deleted). */
  readonly resource: R | undefined;
  readonly tag: string | undefined;
}

/** `"abc"`, `W/"abc"`, `*`, or a list of them. */
function matches(header: string | undefined, tag: string | undefined): boolean {
  if (header === undefined) return true;
  return header.split(',').some((part) => {
    const t = part.trim();
    return t === '*' ? tag !== undefined : tag !== undefined && t.replace(/^W\//, '') === `"${tag}"`;
  });
}

export async function writeResource<R>(control: ControlPlane, req: FastifyRequest, spec: WriteSpec<R>): Promise<WriteOutcome<R>> {
  const ifMatch = headerOf(req, 'if-match');
  const ifNoneMatch = headerOf(req, 'if-none-match');
  let created = false;
  let change: ChangeResult;
  try {
    change = await control.change((desired) => {
      const existing = spec.current(desired);
      const tag = existing === undefined ? undefined : control.revisions.of(existing);
      if (!matches(ifMatch, tag)) {
        throw new ApiProblem('precondition-failed', `If-Match ${ifMatch}: ${spec.what} is at ${tag === undefined ? 'no revision (it does not exist)' : `"${tag}"`}`);
      }
      if (ifNoneMatch !== undefined && matches(ifNoneMatch, tag) && tag !== undefined) {
        throw new ApiProblem('precondition-failed', `If-None-Match ${ifNoneMatch}: ${spec.what} exists already`);
      }
      if (existing === undefined && !spec.creates) throw new ApiProblem('not-found', `${spec.what} does not exist`);
      created = existing === undefined;
      const draft = Draft.of(desired);
      spec.edit(draft, existing, desired);
      return draft.finish();
    });
  } catch (err) {
    throw asProblem(err);
  }
  const resource = spec.current(control.desired);
  return { created, change, resource, tag: resource === undefined ? undefined : control.revisions.of(resource) };
}

/** Whether a ScatterError with `code` is somewhere in `err`'s cause chain. */
function causedBy(err: unknown, code: ErrorCode): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof ScatterError && e.code === code) return true;
  }
  return false;
}

/** The control plane's refusals as problems; anything else goes on to the generic handler. */
export function asProblem(err: unknown): unknown {
  if (err instanceof RefusedChangeError) return new ApiProblem('refused', err.message, { cause: err });
  if (err instanceof PinnedChangeError) return new ApiProblem('conflict', err.message, { cause: err });
  if (err instanceof ApplyError) {
    // Cluster mode: a step that needed etcd (a new LU's reservation state) is etcd's outage, not a fault of the step.
    const kind = causedBy(err, 'ETCD_UNAVAILABLE') ? 'cluster-unavailable' : 'apply-failed';
    return new ApiProblem(kind, `${err.message}; nothing was changed`, { cause: err });
  }
  if (err instanceof PersistError) {
    // Cluster mode: the "file" is etcd (src/cluster/config-store.ts), and its failures have their own meaning.
    if (causedBy(err, 'ETCD_UNAVAILABLE')) return new ApiProblem('cluster-unavailable', `${err.message}; retry when etcd is back`, { cause: err });
    if (causedBy(err, 'CLUSTER_CONFIG_CONFLICT')) return new ApiProblem('conflict', err.message, { cause: err });
    return new ApiProblem('persist-failed', err.message, { cause: err });
  }
  if (err instanceof ConfigFileChangedError) {
    return new ApiProblem('config-file-changed', `${err.message}: send SIGHUP (or restart) so Scatter reads it, then retry`, { cause: err });
  }
  return err;
}

/** Sends a write's answer: 201 when created, else 200; ETag of the resource. */
export function sendWrite<R, V>(reply: FastifyReply, outcome: WriteOutcome<R>, view: (r: R) => V): { resource: V; change: z.output<typeof ChangeSchema> } {
  if (outcome.tag !== undefined) void reply.header('etag', `"${outcome.tag}"`);
  void reply.code(outcome.created ? 201 : 200);
  if (outcome.resource === undefined) throw new ApiProblem('internal', 'the resource is gone after the change');
  return { resource: view(outcome.resource), change: changeJson(outcome.change) };
}

export function changeJson(c: ChangeResult): z.output<typeof ChangeSchema> {
  return { ...c, steps: [...c.steps], needsRestart: [...c.needsRestart], warnings: [...c.warnings] };
}

/** Sends a resource read, with its ETag. */
export function sendRead<R, V>(reply: FastifyReply, control: ControlPlane, resource: R | undefined, what: string, view: (r: R) => V): V {
  if (resource === undefined) throw new ApiProblem('not-found', `${what} does not exist`);
  void reply.header('etag', `"${control.revisions.of(resource)}"`);
  return view(resource);
}

function headerOf(req: FastifyRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** RFC 7396 JSON merge patch: null deletes a member, objects merge, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const base: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value);
  }
  return base;
}

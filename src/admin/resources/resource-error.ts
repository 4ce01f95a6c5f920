import { ScatterError } from '../../shared/errors.js';

/** Why a resource request cannot be done, as the HTTP status it maps to (see problem types in docs/admin.md). */
export type ResourceErrorKind = 'not-found' | 'conflict' | 'precondition-failed' | 'validation';

const STATUS: Record<ResourceErrorKind, number> = { 'not-found': 404, conflict: 409, 'precondition-failed': 412, validation: 400 };

export class ResourceError extends ScatterError<'API_RESOURCE'> {
  readonly status: number;
  constructor(
    readonly kind: ResourceErrorKind,
    detail: string,
  ) {
    super('API_RESOURCE', detail);
    this.status = STATUS[kind];
  }
}

export const notFound = (what: string): ResourceError => new ResourceError('not-found', `${what} does not exist`);
export const conflict = (detail: string): ResourceError => new ResourceError('conflict', detail);

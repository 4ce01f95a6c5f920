import { readFileSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../shared/atomic-write.js';
import { ScsiError } from '../errors.js';
import { isPrType, type PrSnapshot, type ReservationStore } from './types.js';

/** A PrSnapshot as JSON (the file store's content; the shared store's state extends it). */
export const PrSnapshotSchema = z.object({
  generation: z.number().int().min(0).max(0xffffffff),
  registrations: z.array(
    z.object({
      initiatorPort: z.string().min(1),
      targetPort: z.string().min(1),
      relativeTargetPortId: z.number().int().min(0).max(0xffff),
      key: z.string().regex(/^[0-9a-f]{16}$/),
    }),
  ),
  reservation: z
    .object({
      holder: z.number().int().min(0),
      type: z.number().int().refine(isPrType, 'not a persistent reservation type'),
    })
    .optional(),
});

/**
 * APTPL state of one LU in a JSON file, replaced atomically (temp file, fsync, rename) so a crash
 * leaves the old or the new state. A missing file is "nothing persisted"; a corrupt one is an
 * error at start-up rather than silently dropped reservations.
 */
export class FileReservationStore implements ReservationStore {
  constructor(readonly path: string) {}

  load(): PrSnapshot | undefined {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const parsed = PrSnapshotSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new ScsiError('PR_STATE_INVALID', `${this.path}: not a reservation state file (${parsed.error.issues[0]?.message})`);
    return parsed.data as PrSnapshot;
  }

  async save(snapshot: PrSnapshot | undefined): Promise<void> {
    if (!snapshot) {
      await unlink(this.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      return;
    }
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path, `${JSON.stringify(snapshot, null, 2)}\n`);
  }
}

/** Backstores: a sparse or preallocated file, a raw block device, or null (reads zeros, discards writes). */
import { z } from 'zod';
import { isPhysicalBlockSize } from '../../shared/block-size.js';
import { PathSchema, byteSize } from './fields.js';

const BlockSizeSchema = z.literal([512, 4096], { error: 'must be 512 or 4096' }).default(512);

const CapacitySchema = byteSize(1, Number.MAX_SAFE_INTEGER);

function checkMultipleOfBlockSize(store: { size: number; blockSize: number }, ctx: z.RefinementCtx): void {
  if (store.size % store.blockSize !== 0) {
    ctx.addIssue({ code: 'custom', path: ['size'], message: `must be a multiple of blockSize (${store.blockSize})` });
  }
}

/** LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT is 4 bits: at most 2^15 logical blocks per physical one. */
function checkPhysicalBlockSize(store: { blockSize: number; physicalBlockSize?: number | undefined }, ctx: z.RefinementCtx): void {
  const pbs = store.physicalBlockSize;
  if (pbs === undefined) return;
  if (!isPhysicalBlockSize(store.blockSize, pbs)) {
    ctx.addIssue({
      code: 'custom',
      path: ['physicalBlockSize'],
      message: `must be blockSize (${store.blockSize}) times a power of two up to 32768`,
    });
  }
}

const FileBackstoreShape = {
  type: z.literal('file'),
  path: PathSchema,
  /** Created sparse at this size when the file does not exist. */
  size: CapacitySchema,
  blockSize: BlockSizeSchema,
  /** Initial WCE bit of the caching mode page: false makes every write durable before status. */
  writeCache: z.boolean().default(true),
  /** O_DIRECT: bypass the page cache (unaligned segments are bounced). */
  direct: z.boolean().default(false),
  /** Thin provisioning: UNMAP / WRITE SAME(UNMAP) punch holes, GET LBA STATUS reports them (LBPME, LBPRZ). */
  thin: z.boolean().default(false),
  /**
   * Physical block size reported to initiators (READ CAPACITY(16) LOGICAL BLOCKS PER PHYSICAL
   * BLOCK EXPONENT, VPD B0h granularity): a power-of-two multiple of blockSize. Default: blockSize.
   */
  physicalBlockSize: z.number({ error: 'must be a number of bytes' }).int('must be a whole number').optional(),
  /**
   * When the file is created: once (the first time only: a file Scatter served before that is
   * now missing or shorter is refused, the LU stays NOT READY), always (create or grow it back
   * anyway, accepting the loss), never (it must exist).
   */
  create: z.enum(['once', 'always', 'never'], { error: 'must be once, always or never' }).default('once'),
};

const NullBackstoreShape = {
  type: z.literal('null'),
  size: CapacitySchema,
  blockSize: BlockSizeSchema,
};

/** A raw block device; its size and logical block size come from the device. */
const BlockBackstoreShape = {
  type: z.literal('block'),
  path: PathSchema,
  /** Initial WCE bit of the caching mode page: false opens the device O_DSYNC (every write durable before status). */
  writeCache: z.boolean().default(true),
};

/** A named backstore (top-level `backstores`): letters, digits, dot, dash, underscore; at most 64. */
export const BackstoreNameSchema = z
  .string({ error: 'must be a backstore name' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "-" or "_", starting with a letter or digit');

const NameShape = { name: BackstoreNameSchema };

/** The three kinds with their checks (two lists, because zod cannot add keys to a refined object). */
const KINDS = [
  z.strictObject(FileBackstoreShape).superRefine(checkMultipleOfBlockSize).superRefine(checkPhysicalBlockSize),
  z.strictObject(NullBackstoreShape).superRefine(checkMultipleOfBlockSize),
  z.strictObject(BlockBackstoreShape),
] as const;
const NAMED_KINDS = [
  z
    .strictObject({ ...NameShape, ...FileBackstoreShape })
    .superRefine(checkMultipleOfBlockSize)
    .superRefine(checkPhysicalBlockSize),
  z.strictObject({ ...NameShape, ...NullBackstoreShape }).superRefine(checkMultipleOfBlockSize),
  z.strictObject({ ...NameShape, ...BlockBackstoreShape }),
] as const;

/** YAML reads an unquoted `type: null` as the null value; it can only mean the null backstore. */
function nullTypeAsString(value: unknown): unknown {
  if (typeof value === 'object' && value !== null && 'type' in value && value.type === null) {
    return { ...value, type: 'null' };
  }
  return value;
}

export const BackstoreSchema = z.preprocess(
  nullTypeAsString,
  z.discriminatedUnion('type', KINDS),
);

/** An entry of the top-level `backstores` list: a backstore with a name that LUNs refer to. */
export const NamedBackstoreSchema = z.preprocess(
  nullTypeAsString,
  z.discriminatedUnion('type', NAMED_KINDS),
);

export type BackstoreConfig = z.output<typeof BackstoreSchema>;
export type NamedBackstoreConfig = z.output<typeof NamedBackstoreSchema>;

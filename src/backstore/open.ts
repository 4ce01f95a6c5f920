import type { Backstore } from '../block/backstore.js';
import { BackstoreError } from '../block/backstore-error.js';
import type { BackingRecords, CreatePolicy } from './backing-record.js';
import { BlockBackstore } from './block.js';
import { FileBackstore } from './file.js';
import { NullBackstore } from './null.js';

export type BackstoreSpec =
  | {
      readonly type: 'file';
      readonly path: string;
      readonly size?: number;
      readonly blockSize?: number;
      readonly readOnly?: boolean;
      readonly writeCache?: boolean;
      readonly thin?: boolean;
      readonly direct?: boolean;
      readonly physicalBlockSize?: number;
      readonly create?: CreatePolicy;
      readonly records?: BackingRecords;
    }
  | { readonly type: 'null'; readonly size: number; readonly blockSize?: number }
  | { readonly type: 'block'; readonly path: string; readonly readOnly?: boolean; readonly writeCache?: boolean };

/** Open the backstore a (validated) config entry describes. Rejects with BackstoreError. */
export async function openBackstore(spec: BackstoreSpec): Promise<Backstore> {
  switch (spec.type) {
    case 'file': {
      const { type: _type, ...opts } = spec;
      return FileBackstore.open(opts);
    }
    case 'block': {
      const { type: _type, ...opts } = spec;
      return BlockBackstore.open(opts);
    }
    case 'null':
      return new NullBackstore({ size: spec.size, ...(spec.blockSize !== undefined ? { blockSize: spec.blockSize } : {}) });
    default: {
      const unknown: never = spec;
      throw new BackstoreError('EINVAL', `unknown backstore type ${JSON.stringify(unknown)}`);
    }
  }
}

/**
 * preadv2 / pwritev2, bound in the process's own symbol scope (see libc.ts) so that an
 * LD_PRELOAD interposer sees them as it sees Node's preadv / pwritev. For inline I/O
 * (backstore/inline-io.ts): the flags argument carries RWF_NOWAIT.
 */
import { lazyBinding, pointer, struct } from './libc.js';

export const RWF_NOWAIT = 0x08;
/** Most iovecs one call takes (Linux UIO_MAXIOV). */
export const IOV_MAX = 1024;

export interface IoVec {
  readonly base: Buffer;
  readonly len: number;
}

export interface VectoredCalls {
  preadv2(fd: number, iov: IoVec[], count: number, offset: number, flags: number): number;
  pwritev2(fd: number, iov: IoVec[], count: number, offset: number, flags: number): number;
}

export const vectoredCalls = lazyBinding<VectoredCalls>('preadv2 / pwritev2', 'process', (lib) => {
  const iovec = pointer(struct('scatter_iovec', { base: 'void *', len: 'size_t' }));
  return {
    preadv2: lib.func('preadv2', 'int64_t', ['int', iovec, 'int', 'int64_t', 'int']) as VectoredCalls['preadv2'],
    pwritev2: lib.func('pwritev2', 'int64_t', ['int', iovec, 'int', 'int64_t', 'int']) as VectoredCalls['pwritev2'],
  };
});

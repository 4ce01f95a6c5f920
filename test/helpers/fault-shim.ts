/**
 * EIO on demand for one backing file, in a real child process: an LD_PRELOAD library, compiled
 * with gcc at test time, wraps the libc calls Node (libuv) and Scatter's inline I/O (koffi,
 * resolved in the process's symbol scope) use, and fails those named in a control file with EIO
 * when the fd is the file at SCATTER_FAULT_PATH. Run the child with UV_USE_IO_URING=0 so that
 * libuv does not bypass libc with io_uring.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from './tools.js';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* Is "call" armed in the control file, and is fd the target file? */
static int armed(int fd, const char *call) {
  const char *target = getenv("SCATTER_FAULT_PATH");
  const char *ctl = getenv("SCATTER_FAULT_CTL");
  if (!target || !ctl) return 0;
  int c = open(ctl, O_RDONLY | O_CLOEXEC);
  if (c < 0) return 0;
  char want[512];
  ssize_t n = read(c, want, sizeof want - 1);
  close(c);
  if (n <= 0) return 0;
  want[n] = 0;
  char word[64];
  snprintf(word, sizeof word, " %s ", call);
  char padded[520];
  snprintf(padded, sizeof padded, " %s ", want);
  for (char *p = padded; *p; p++) if (*p == '\n' || *p == ',') *p = ' ';
  if (!strstr(padded, word)) return 0;
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t m = readlink(link, path, sizeof path - 1);
  if (m < 0) return 0;
  path[m] = 0;
  return strcmp(path, target) == 0;
}

#define WRAP(ret, name, group, params, args)                      \
  ret name params {                                               \
    static ret(*real) params;                                     \
    if (!real) real = (ret(*) params)dlsym(RTLD_NEXT, #name);     \
    if (armed(fd, group)) { errno = EIO; return -1; }             \
    return real args;                                             \
  }

WRAP(int, fdatasync, "fdatasync", (int fd), (fd))
WRAP(int, fsync, "fdatasync", (int fd), (fd))
WRAP(ssize_t, pwrite, "write", (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, pwrite64, "write", (int fd, const void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, pwritev, "write", (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o))
WRAP(ssize_t, pwritev64, "write", (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o))
WRAP(ssize_t, pwritev2, "write", (int fd, const struct iovec *v, int c, off_t o, int f), (fd, v, c, o, f))
WRAP(ssize_t, pwritev64v2, "write", (int fd, const struct iovec *v, int c, off_t o, int f), (fd, v, c, o, f))
WRAP(ssize_t, pread, "read", (int fd, void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, pread64, "read", (int fd, void *b, size_t n, off_t o), (fd, b, n, o))
WRAP(ssize_t, preadv, "read", (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o))
WRAP(ssize_t, preadv64, "read", (int fd, const struct iovec *v, int c, off_t o), (fd, v, c, o))
WRAP(ssize_t, preadv2, "read", (int fd, const struct iovec *v, int c, off_t o, int f), (fd, v, c, o, f))
WRAP(ssize_t, preadv64v2, "read", (int fd, const struct iovec *v, int c, off_t o, int f), (fd, v, c, o, f))
`;

export interface FaultShim {
  /** The compiled library, for LD_PRELOAD. */
  readonly library: string;
  /** The environment a child needs: LD_PRELOAD, the target path and control file, no io_uring. */
  env(targetPath: string): NodeJS.ProcessEnv;
  /** Make these calls fail with EIO from now on ('fdatasync', 'write', 'read'); none = stop failing. */
  fail(...calls: ('fdatasync' | 'write' | 'read')[]): void;
  /** Remove the library and its directory (after the child has exited). */
  dispose(): void;
}

/**
 * Whether the shim can be built (gcc). Under CI=true a missing gcc is an error, so the suite
 * fails instead of quietly skipping.
 */
export function faultShimAvailable(): boolean {
  const ok = findTool('gcc') !== undefined && process.platform === 'linux';
  if (!ok && process.env.CI) throw new Error('CI requires gcc for the backstore fault-injection tests');
  if (!ok) process.stderr.write('backstore fault tests: skipping, need gcc (apt-get install gcc)\n');
  return ok;
}

export function buildFaultShim(): FaultShim {
  const dir = mkdtempSync(join(tmpdir(), 'scatter-shim-'));
  const source = join(dir, 'fault.c');
  const library = join(dir, 'fault.so');
  const control = join(dir, 'control');
  writeFileSync(source, SOURCE);
  writeFileSync(control, '');
  execFileSync(findTool('gcc')!, ['-shared', '-fPIC', '-O1', '-o', library, source, '-ldl']);
  return {
    library,
    env: (targetPath) => ({
      ...process.env,
      LD_PRELOAD: library,
      SCATTER_FAULT_PATH: targetPath,
      SCATTER_FAULT_CTL: control,
      UV_USE_IO_URING: '0',
    }),
    fail: (...calls) => writeFileSync(control, calls.join(' ')),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

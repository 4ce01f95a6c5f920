import { describe, expect, it } from 'vitest';
import { ApiProblem } from '../../../src/admin/problem.js';
import { AdminTokenError } from '../../../src/admin/token.js';
import { BackstoreError } from '../../../src/block/backstore-error.js';
import { BlockError } from '../../../src/block/device.js';
import { ConfigError } from '../../../src/config/error.js';
import { parseSize } from '../../../src/config/size.js';
import { LoginFailure } from '../../../src/iscsi/login-failure.js';
import { LoginStatus } from '../../../src/iscsi/opcodes.js';
import { parseScsiCommand } from '../../../src/iscsi/pdu.js';
import { ScsiError } from '../../../src/scsi/errors.js';
import { ERROR_CODES, ScatterError } from '../../../src/shared/errors.js';

describe('error codes in one place', () => {
  it('every layer\'s errors are ScatterErrors whose code is listed (with a description) in ERROR_CODES, and keep their class name', () => {
    const ahs = Buffer.alloc(4, 0xff); // an AHS length past the AHS area
    const bhs = Buffer.alloc(48);
    bhs[0] = 0x01;
    const thrown = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (err) {
        return err;
      }
      throw new Error('expected a throw');
    };
    const errors: [unknown, string, string][] = [
      [new BlockError('IO_ERROR', 'x'), 'BlockError', 'IO_ERROR'],
      [new BackstoreError('ENOSPC', 'x'), 'BackstoreError', 'ENOSPC'],
      [new ScsiError('LUN_NOT_FOUND', 'x'), 'ScsiError', 'LUN_NOT_FOUND'],
      [new ConfigError('f.yaml', [{ path: 'a', message: 'bad' }]), 'ConfigError', 'CONFIG_INVALID'],
      [new LoginFailure(LoginStatus.AUTH_FAILURE, 'chap_wrong_secret', 'x'), 'LoginFailure', 'LOGIN_FAILED'],
      [thrown(() => parseSize('12 parsecs')), 'SizeError', 'SIZE_INVALID'],
      [thrown(() => parseScsiCommand(bhs, ahs)), 'AhsError', 'AHS_INVALID'],
      [new ApiProblem('not-found', 'x'), 'ApiProblem', 'API_NOT_FOUND'],
      [new AdminTokenError('x'), 'AdminTokenError', 'ADMIN_TOKEN_INVALID'],
    ];
    for (const [err, name, code] of errors) {
      expect(err).toBeInstanceOf(ScatterError);
      expect((err as ScatterError).name).toBe(name);
      expect((err as ScatterError).code).toBe(code);
      expect(ERROR_CODES[code as keyof typeof ERROR_CODES]).toMatch(/\w/);
    }
  });
});

/**
 * iSCSI names (RFC 3720 §3.2.6, RFC 3980 for naa.). Names are compared after
 * the stringprep profile of RFC 3722, which folds case, so Scatter stores and
 * accepts them in lowercase only; it also keeps to ASCII, which every
 * initiator handles.
 */

/** RFC 3720 §3.2.6.1: at most 223 bytes. */
export const ISCSI_NAME_MAX_LENGTH = 223;

const LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
/** iqn.<yyyy-mm>.<reversed domain>[:<anything the naming authority chooses>] */
const IQN = new RegExp(`^iqn\\.[0-9]{4}-(?:0[1-9]|1[0-2])\\.${LABEL}(?:\\.${LABEL})*(?::[a-z0-9.:-]+)?$`);
/** eui.<EUI-64 as 16 hex digits> */
const EUI = /^eui\.[0-9a-f]{16}$/;
/** naa.<NAA identifier as 16 or 32 hex digits> */
const NAA = /^naa\.(?:[0-9a-f]{16}|[0-9a-f]{32})$/;

/** Why `name` is not a valid iSCSI name, or null when it is. */
export function iscsiNameProblem(name: string): string | null {
  if (name.length === 0) return 'must not be empty';
  if (Buffer.byteLength(name, 'utf8') > ISCSI_NAME_MAX_LENGTH) {
    return `must be at most ${ISCSI_NAME_MAX_LENGTH} bytes`;
  }
  if (name !== name.toLowerCase()) {
    return `must be lowercase (iSCSI names are compared case-folded): use ${JSON.stringify(name.toLowerCase())}`;
  }
  if (name.startsWith('iqn.')) {
    return IQN.test(name) ? null : 'must look like iqn.yyyy-mm.reversed.domain[:identifier] (RFC 3720 §3.2.6.3.1)';
  }
  if (name.startsWith('eui.')) {
    return EUI.test(name) ? null : 'must be eui. followed by 16 hex digits (RFC 3720 §3.2.6.3.2)';
  }
  if (name.startsWith('naa.')) {
    return NAA.test(name) ? null : 'must be naa. followed by 16 or 32 hex digits (RFC 3980)';
  }
  return 'must start with iqn., eui. or naa.';
}

/** iSCSI opcodes (RFC 7143 §11.2.1.2). Initiator opcodes are 0x00-0x1f, target opcodes 0x20-0x3f. */
export const Op = {
  NOP_OUT: 0x00,
  SCSI_CMD: 0x01,
  TMF_REQ: 0x02,
  LOGIN_REQ: 0x03,
  TEXT_REQ: 0x04,
  DATA_OUT: 0x05,
  LOGOUT_REQ: 0x06,
  SNACK: 0x10,
  NOP_IN: 0x20,
  SCSI_RSP: 0x21,
  TMF_RSP: 0x22,
  LOGIN_RSP: 0x23,
  TEXT_RSP: 0x24,
  DATA_IN: 0x25,
  LOGOUT_RSP: 0x26,
  R2T: 0x31,
  ASYNC_MSG: 0x32,
  REJECT: 0x3f,
} as const;

export const BHS_LENGTH = 48;
/** The reserved tag value ("no tag"). */
export const RESERVED_TAG = 0xffffffff;

/** Reject reasons (RFC 7143 §11.17.1). */
export const RejectReason = {
  DATA_DIGEST_ERROR: 0x02,
  SNACK_REJECT: 0x03,
  PROTOCOL_ERROR: 0x04,
  COMMAND_NOT_SUPPORTED: 0x05,
  IMMEDIATE_COMMAND_REJECT: 0x06,
  TASK_IN_PROGRESS: 0x07,
  INVALID_DATA_ACK: 0x08,
  INVALID_PDU_FIELD: 0x09,
  OUT_OF_RESOURCES: 0x0a,
  NEGOTIATION_RESET: 0x0b,
  WAITING_FOR_LOGOUT: 0x0c,
} as const;

/** Task management functions (RFC 7143 §11.5.1). */
export const TmfFunction = {
  ABORT_TASK: 1,
  ABORT_TASK_SET: 2,
  CLEAR_ACA: 3,
  CLEAR_TASK_SET: 4,
  LOGICAL_UNIT_RESET: 5,
  TARGET_WARM_RESET: 6,
  TARGET_COLD_RESET: 7,
  TASK_REASSIGN: 8,
} as const;

/** Task management responses (RFC 7143 §11.6.1). */
export const TmfResponse = {
  COMPLETE: 0,
  TASK_DOES_NOT_EXIST: 1,
  LUN_DOES_NOT_EXIST: 2,
  TASK_STILL_ALLEGIANT: 3,
  REASSIGNMENT_NOT_SUPPORTED: 4,
  NOT_SUPPORTED: 5,
  AUTHORIZATION_FAILED: 6,
  REJECTED: 255,
} as const;

/** Logout response codes (RFC 7143 §11.15.1). */
export const LogoutResponse = {
  CLOSED: 0,
  CID_NOT_FOUND: 1,
  RECOVERY_NOT_SUPPORTED: 2,
  CLEANUP_FAILED: 3,
} as const;

/** Login status class/detail pairs (RFC 7143 §11.13.5). */
export const LoginStatus = {
  SUCCESS: [0x00, 0x00],
  TARGET_MOVED_TEMPORARILY: [0x01, 0x01],
  INITIATOR_ERROR: [0x02, 0x00],
  AUTH_FAILURE: [0x02, 0x01],
  AUTHORIZATION_FAILURE: [0x02, 0x02],
  TARGET_NOT_FOUND: [0x02, 0x03],
  TARGET_REMOVED: [0x02, 0x04],
  UNSUPPORTED_VERSION: [0x02, 0x05],
  TOO_MANY_CONNECTIONS: [0x02, 0x06],
  MISSING_PARAMETER: [0x02, 0x07],
  CANT_INCLUDE_IN_SESSION: [0x02, 0x08],
  SESSION_TYPE_NOT_SUPPORTED: [0x02, 0x09],
  SESSION_DOES_NOT_EXIST: [0x02, 0x0a],
  INVALID_DURING_LOGIN: [0x02, 0x0b],
  TARGET_ERROR: [0x03, 0x00],
  SERVICE_UNAVAILABLE: [0x03, 0x01],
  OUT_OF_RESOURCES: [0x03, 0x02],
} as const satisfies Record<string, readonly [number, number]>;

export type LoginStatusCode = (typeof LoginStatus)[keyof typeof LoginStatus];

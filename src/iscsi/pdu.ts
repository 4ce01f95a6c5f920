/**
 * The iSCSI PDU codec: the common header fields (pdu-header.ts), what the target parses
 * (pdu-parse.ts) and what it encodes (pdu-encode.ts), importable from this one module.
 */
export * from './pdu-header.js';
export * from './pdu-parse.js';
export * from './pdu-encode.js';

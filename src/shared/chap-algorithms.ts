/**
 * CHAP digest algorithms by their number in the IANA "PPP Authentication Algorithms" registry, the
 * values carried by the iSCSI CHAP_A key. A leaf fact both the config schema and the iSCSI login use.
 */
export type ChapAlgorithm = 5 | 6 | 7 | 8;

/** Every algorithm Scatter knows, strongest first (also the default allow-list). */
export const CHAP_ALGORITHMS: readonly ChapAlgorithm[] = [7, 8, 6, 5];

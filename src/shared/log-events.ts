/**
 * The `event` field of the log lines an operator looks for: one line per event, under a name that
 * does not change, so a log query or an alert can rely on it (docs/operations.md, "Logs", lists
 * each event's fields). Lines without an `event` field are narrative and may be reworded.
 */
export const LogEvent = {
  started: 'started',
  startFailed: 'start_failed',
  stopping: 'stopping',
  stopped: 'stopped',
  login: 'login',
  loginFailed: 'login_failed',
  logout: 'logout',
  connectionClosed: 'connection_closed',
  sessionClosed: 'session_closed',
  sessionReinstated: 'session_reinstated',
  tmf: 'tmf',
  luState: 'lu_state',
  backstoreError: 'backstore_error',
  configApplied: 'config_applied',
  configReload: 'config_reload',
  // cluster mode (docs/cluster.md)
  clusterJoined: 'cluster_joined',
  clusterOwner: 'cluster_owner',
  clusterDrained: 'cluster_drained',
  clusterFenced: 'cluster_fenced',
  clusterRenewed: 'cluster_renewed',
  clusterLeaseLost: 'cluster_lease_lost',
  clusterRejoined: 'cluster_rejoined',
  clusterEventUnanswered: 'cluster_event_unanswered',
} as const;

export type LogEventName = (typeof LogEvent)[keyof typeof LogEvent];

/** The `change` field of an `lu_state` line: what happened to the LU. */
export const LU_CHANGES = [
  'ready', // opened at start-up
  'added',
  'reopened', // an offline LU opened again by a reload
  'removed',
  'offline', // its storage could not be opened, or was truncated / deleted under it
  'resized',
  'writeback_failed',
  'writeback_acknowledged',
  'sanitize_started',
  'sanitize_completed',
  'sanitize_failed',
  'sanitize_failure_cleared', // EXIT FAILURE MODE
] as const;

export type LuChange = (typeof LU_CHANGES)[number];

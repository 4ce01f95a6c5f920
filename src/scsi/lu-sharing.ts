/**
 * Cluster mode: LU-wide state that every node's copy of a logical unit must follow (docs/cluster.md,
 * "Events"). A LOGICAL UNIT RESET or a MODE SELECT through one node is one change of one LU as
 * far as initiators are concerned: the other nodes abort their tasks and raise the unit attention
 * too, or take the new mode parameters. Reservations travel through their own store (pr/).
 */
export type SharedLuEvent =
  /** LOGICAL UNIT RESET or TARGET RESET: abort every task, restore defaults, unit attention for every nexus. */
  | { readonly kind: 'lun-reset'; readonly cold: boolean }
  /** MODE SELECT changed the LU's current mode parameters. */
  | { readonly kind: 'mode'; readonly descriptorSense: boolean; readonly softwareWriteProtect: boolean; readonly writeCacheEnabled: boolean };

export interface LuSharing {
  /** Resolves once the live nodes have applied `event` (bounded by a timeout); rejects when it could not be sent. */
  publish(event: SharedLuEvent): Promise<void>;
}

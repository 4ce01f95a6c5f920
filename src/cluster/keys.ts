/**
 * Where cluster state lives in etcd (docs/cluster.md, "Pieces"): everything under
 * `/scatter/<cluster>/`, so several clusters can share one etcd and `etcdctl get --prefix` shows
 * one cluster at a time. A logical unit is named by its target and LUN, which are the same on
 * every node because they come from the shared config.
 */
export class ClusterKeys {
  readonly prefix: string;

  constructor(clusterName: string) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(clusterName)) throw new RangeError(`cluster name '${clusterName}' cannot be a key segment`);
    this.prefix = `/scatter/${clusterName}`;
  }

  /** `nodes/<id>`: a node's liveness and addresses, under its lease. */
  node(nodeId: string): string {
    return `${this.prefix}/nodes/${nodeId}`;
  }

  get nodes(): string {
    return `${this.prefix}/nodes/`;
  }

  /** `owner/<iqn>/<lun>`: which node is Active/Optimized for the LU, under that node's lease. */
  owner(lu: LuName): string {
    return `${this.prefix}/owner/${luSegment(lu)}`;
  }

  get owners(): string {
    return `${this.prefix}/owner/`;
  }

  /** `pr/<iqn>/<lun>`: the LU's persistent reservations (changed only in transactions). */
  reservations(lu: LuName): string {
    return `${this.prefix}/pr/${luSegment(lu)}`;
  }

  /** `events/<iqn>/<lun>/`: what every node must act on (PREEMPT AND ABORT, resets). */
  events(lu: LuName): string {
    return `${this.prefix}/events/${luSegment(lu)}/`;
  }

  /** The shared part of the configuration (targets, backstores, discovery auth). */
  get config(): string {
    return `${this.prefix}/config`;
  }

  /** The LU an `owner/…` key names, or undefined for a key that is not one. */
  luOfOwnerKey(key: string): LuName | undefined {
    if (!key.startsWith(this.owners)) return undefined;
    return parseLuSegment(key.slice(this.owners.length));
  }
}

/** A logical unit as the cluster names it. */
export interface LuName {
  readonly iqn: string;
  readonly lun: number;
}

/** iSCSI names never contain '/', so `<iqn>/<lun>` is unambiguous. */
export function luSegment(lu: LuName): string {
  return `${lu.iqn.toLowerCase()}/${lu.lun}`;
}

export function parseLuSegment(segment: string): LuName | undefined {
  const slash = segment.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const lun = Number(segment.slice(slash + 1));
  if (!Number.isInteger(lun) || lun < 0 || lun > 16383) return undefined;
  return { iqn: segment.slice(0, slash), lun };
}

/**
 * Which nodes the cluster has (spec section 2): the cluster file's fixed `nodes` list
 * (StaticMembership, here), or the nodes whose agents registered themselves in etcd
 * (EtcdMembership, etcd-membership.ts, loaded only by clusters that have `membership`).
 */
import { EventEmitter } from 'node:events';
import type { NodeConfig } from '../config';

export interface MembershipEvents {
  /** The node set changed; `nodes` is the whole new set, by id. */
  change: [nodes: NodeConfig[]];
}

/** Where a process learns the cluster's nodes, and hears when they change. */
export interface Membership extends EventEmitter<MembershipEvents> {
  /** The nodes now, by id. */
  nodes(): NodeConfig[];
  close(): void;
}

/** The cluster file's fixed list: it never changes. */
export class StaticMembership extends EventEmitter<MembershipEvents> implements Membership {
  constructor(private readonly list: NodeConfig[]) {
    super();
  }
  nodes(): NodeConfig[] {
    return this.list;
  }
  close(): void {}
}

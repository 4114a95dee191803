import type { DnsSnapshot, FirewallPolicy, QueryLogEntry } from '@bulwark/dns';
import type { AuditActor } from '../audit/ledger/entry.ts';
import type { AuditLedger } from '../audit/ledger/ledger.ts';
import { OrgStore } from '../directory/orgs.ts';
import { BulwarkError } from '../errors.ts';
import type { IdentityContext } from '../identity/context.ts';
import { Storage } from '../storage/storage.ts';
import { ClientGroupStore, type GroupSettings, type StoredGroup } from './client-groups.ts';
import { DnsClientStore, type StoredClient } from './clients.ts';
import { type DnsTx, groupOfOrg, zoneOfOrg } from './context.ts';
import {
  createClient,
  createGroup,
  deleteGroup,
  revokeClient,
  updateGroup,
} from './group-changes.ts';
import { keepQueries, pruneQueryLog } from './log-keeping.ts';
import { type LoggedQuery, QueryLogStore } from './query-log.ts';
import { buildSnapshot, DnsPolicyLookup, orgDefaultPolicy } from './snapshot.ts';
import {
  addRecord,
  createZone,
  deleteRecord,
  deleteZone,
  type RecordInput,
  type RecordView,
  recordView,
  replaceRecord,
} from './zone-changes.ts';
import { type StoredZone, ZoneStore } from './zones.ts';

export interface DnsDirectoryDeps {
  /** The identity services while unsealed (storage and clock); throws `sealed` otherwise. */
  identity: () => IdentityContext;
  ledger: () => AuditLedger;
  /** Where clients reach this server's DNS over HTTPS, e.g. `https://dns.example.org`. */
  publicOrigin: () => string;
  /**
   * Called after every committed change (rebuild the resolver's snapshot,
   * tell the other nodes). Awaited, so the answer follows it; a failure is
   * its own to report: the change is committed either way.
   */
  onChange?: () => Promise<void> | void;
  /** The ranges the resolver serves at all; client-group ranges must lie inside. Null: unchecked. */
  allowedRanges?: () => readonly string[] | null;
  /**
   * Orgs (by slug; `*` for all) whose admins may claim source address
   * ranges, besides the installation's first org. A range decides whose
   * policy and query log an unidentified device falls into, so in a shared
   * installation it is the operator's to hand out. Null: unchecked.
   */
  rangeOrgs?: () => readonly string[] | null;
}

/** A client group as the API shows it: its settings and the firewall policy they make. */
export type GroupView = ReturnType<typeof groupView>;

/**
 * The DNS firewall's directory: each org's zones, client groups and
 * clients, their query log, and the snapshot of all of it that the resolver
 * serves from. Every change runs in one transaction with its ledger entry;
 * the route guard has authorized the org, and every sub-resource id is
 * checked to belong to it here.
 */
export class DnsDirectoryService {
  readonly #deps: DnsDirectoryDeps;

  constructor(deps: DnsDirectoryDeps) {
    this.#deps = deps;
  }

  storage(): Storage {
    return this.#deps.identity().storage;
  }

  // --- zones and records ---------------------------------------------------------

  listZones(orgId: string): Promise<StoredZone[]> {
    return new ZoneStore(this.storage()).list(orgId);
  }

  /** A zone of the org with its records (not_found for another org's). */
  async zone(orgId: string, zoneId: string): Promise<StoredZone & { records: RecordView[] }> {
    const storage = this.storage();
    const zone = await zoneOfOrg(storage, orgId, zoneId);
    const records = await new ZoneStore(storage).records([zone.id]);
    return { ...zone, records: records.map(recordView) };
  }

  createZone(who: AuditActor, orgId: string, name: string): Promise<StoredZone> {
    return this.#change(who, orgId, (tx) => createZone(tx, orgId, name));
  }

  deleteZone(who: AuditActor, orgId: string, zoneId: string): Promise<void> {
    return this.#change(who, orgId, (tx) => deleteZone(tx, orgId, zoneId));
  }

  async addRecord(
    who: AuditActor,
    orgId: string,
    zoneId: string,
    input: RecordInput,
  ): Promise<RecordView> {
    return recordView(await this.#change(who, orgId, (tx) => addRecord(tx, orgId, zoneId, input)));
  }

  async replaceRecord(
    who: AuditActor,
    orgId: string,
    zoneId: string,
    recordId: string,
    input: RecordInput,
  ): Promise<RecordView> {
    return recordView(
      await this.#change(who, orgId, (tx) => replaceRecord(tx, orgId, zoneId, recordId, input)),
    );
  }

  deleteRecord(who: AuditActor, orgId: string, zoneId: string, recordId: string): Promise<void> {
    return this.#change(who, orgId, (tx) => deleteRecord(tx, orgId, zoneId, recordId));
  }

  // --- client groups and clients ------------------------------------------------------

  async listGroups(orgId: string): Promise<GroupView[]> {
    const storage = this.storage();
    const lookup = new DnsPolicyLookup(storage);
    const views = [];
    for (const g of await new ClientGroupStore(storage).list(orgId)) {
      views.push(groupView(g, await lookup.groupPolicy(g)));
    }
    return views;
  }

  async createGroup(who: AuditActor, orgId: string, settings: GroupSettings): Promise<GroupView> {
    await this.#checkRangeOwner(orgId, settings);
    const group = await this.#change(who, orgId, (tx) =>
      createGroup(tx, orgId, settings, this.#allowed()),
    );
    return groupView(group, await new DnsPolicyLookup(this.storage()).groupPolicy(group));
  }

  async updateGroup(
    who: AuditActor,
    orgId: string,
    groupId: string,
    settings: GroupSettings,
  ): Promise<GroupView> {
    await this.#checkRangeOwner(orgId, settings);
    const group = await this.#change(who, orgId, (tx) =>
      updateGroup(tx, orgId, groupId, settings, this.#allowed()),
    );
    return groupView(group, await new DnsPolicyLookup(this.storage()).groupPolicy(group));
  }

  deleteGroup(who: AuditActor, orgId: string, groupId: string): Promise<void> {
    return this.#change(who, orgId, (tx) => deleteGroup(tx, orgId, groupId));
  }

  async listClients(orgId: string, groupId: string): Promise<StoredClient[]> {
    const storage = this.storage();
    const group = await groupOfOrg(storage, orgId, groupId);
    return new DnsClientStore(storage).listForGroup(group.id);
  }

  /**
   * Registers a device. The answer is the only place its DoH URL (and so its
   * token) ever appears: the server keeps the token's hash alone.
   */
  async createClient(
    who: AuditActor,
    orgId: string,
    groupId: string,
    input: { name: string; certificatePem?: string | undefined },
  ): Promise<{ client: StoredClient; dohUrl: string }> {
    const { client, token } = await this.#change(who, orgId, (tx) =>
      createClient(tx, orgId, groupId, input),
    );
    const origin = this.#deps.publicOrigin().replace(/\/+$/, '');
    return { client, dohUrl: `${origin}/dns-query/${token}` };
  }

  revokeClient(who: AuditActor, orgId: string, clientId: string): Promise<void> {
    return this.#change(who, orgId, (tx) => revokeClient(tx, orgId, clientId));
  }

  // --- the query log ----------------------------------------------------------------

  /** One org's log, newest first; `name` is matched exactly through the blind index. */
  queryLog(
    orgId: string,
    opts: { limit: number; before?: string | undefined; name?: string | undefined },
  ): Promise<{ queries: LoggedQuery[]; next: string | null }> {
    return new QueryLogStore(this.storage()).list(orgId, opts);
  }

  /** The resolver's query-log sink: keeps a batch under today's policies. */
  recordQueries(entries: readonly QueryLogEntry[]): Promise<number> {
    return keepQueries(this.storage(), entries);
  }

  /** Deletes entries past each org's (and project's) dnsQueryLogRetentionDays. */
  pruneQueryLog(now: Date): Promise<number> {
    return pruneQueryLog(this.storage(), now);
  }

  // --- what the resolver serves -----------------------------------------------------------

  /** Every zone, client group (with its computed policy) and active client of the installation. */
  snapshot(): Promise<DnsSnapshot> {
    return buildSnapshot(this.storage());
  }

  /** The org's policy with no group on top (id `org:<orgId>`). */
  defaultPolicy(orgId: string): Promise<FirewallPolicy> {
    return orgDefaultPolicy(this.storage(), orgId);
  }

  async #checkRangeOwner(orgId: string, settings: GroupSettings): Promise<void> {
    const permitted = this.#deps.rangeOrgs?.() ?? null;
    if (settings.sourceCidrs.length === 0 || permitted === null || permitted.includes('*')) return;
    const orgs = new OrgStore(this.storage());
    const first = (await orgs.list())[0];
    if (first?.id === orgId) return;
    const org = await orgs.get(orgId);
    if (org && permitted.includes(org.slug)) return;
    throw new BulwarkError(
      'forbidden',
      'sourceCidrs: this org may not claim address ranges (the operator grants that in dns.rangeOrgs); register its devices as clients with a DoH URL or a DoT certificate instead.',
    );
  }

  #allowed(): readonly string[] | null {
    return this.#deps.allowedRanges?.() ?? null;
  }

  /** One transaction for the change and its ledger entries; then the snapshot's owner is told. */
  async #change<T>(who: AuditActor, orgId: string, change: (tx: DnsTx) => Promise<T>): Promise<T> {
    const identity = this.#deps.identity();
    const outer = identity.storage;
    const ledger = this.#deps.ledger();
    const now = identity.clock.now();
    const result = await outer.db.transaction().execute(async (trx) => {
      const storage = new Storage(trx, outer.backend, outer.fields);
      return change({
        storage,
        now,
        record: async ({ projectId, ...event }) => {
          await ledger.append(trx, {
            ...event,
            actor: who,
            scope: { orgId, projectId: projectId ?? null },
          });
        },
      });
    });
    try {
      await this.#deps.onChange?.();
    } catch {
      // Committed regardless; onChange reports its own failures (see DnsDirectoryDeps).
    }
    return result;
  }
}

export function groupView(g: StoredGroup, policy: FirewallPolicy) {
  return {
    id: g.id,
    orgId: g.orgId,
    projectId: g.projectId,
    name: g.name,
    sourceCidrs: g.sourceCidrs,
    blockCategories: g.blockCategories,
    rules: g.rules,
    answer: g.answer,
    sinkhole: g.sinkhole,
    createdAt: g.createdAt,
    updatedAt: g.updatedAt,
    /** What the resolver applies to the group's clients (org or project policy plus the group). */
    policy,
  };
}

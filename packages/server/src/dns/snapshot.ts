import type { ClientGroup, DnsClient, DnsSnapshot, FirewallPolicy, Zone } from '@bulwark/dns';
import { effectivePolicy } from '../policy/effective.ts';
import type { OrgPolicy } from '../policy/policy.ts';
import { PolicyStore } from '../policy/policy-store.ts';
import type { Storage } from '../storage/storage.ts';
import { ClientGroupStore, type StoredGroup } from './client-groups.ts';
import { DnsClientStore } from './clients.ts';
import { type DnsPolicyFields, groupFirewallPolicy, orgFirewallPolicy } from './firewall-policy.ts';
import { ZoneStore } from './zones.ts';

/**
 * The effective DNS settings of orgs and projects, each read once per use
 * (a snapshot, a prune, a batch of log entries): policies are read fresh
 * every time, so a policy change applies at the next rebuild.
 */
export class DnsPolicyLookup {
  readonly #policies: PolicyStore;
  readonly #orgs = new Map<string, Promise<OrgPolicy>>();
  readonly #projects = new Map<string, Promise<DnsPolicyFields>>();

  constructor(storage: Storage) {
    this.#policies = new PolicyStore(storage);
  }

  org(orgId: string): Promise<OrgPolicy> {
    let policy = this.#orgs.get(orgId);
    if (!policy) {
      policy = this.#policies.orgPolicy(orgId);
      this.#orgs.set(orgId, policy);
    }
    return policy;
  }

  /** The org's effective DNS settings, or its project's (which only tighten them). */
  async effective(orgId: string, projectId: string | null): Promise<DnsPolicyFields> {
    if (projectId === null) return this.org(orgId);
    let fields = this.#projects.get(projectId);
    if (!fields) {
      fields = (async () => {
        const { override } = await this.#policies.projectPolicy(projectId);
        return effectivePolicy(await this.org(orgId), override);
      })();
      this.#projects.set(projectId, fields);
    }
    return fields;
  }

  async groupPolicy(group: StoredGroup): Promise<FirewallPolicy> {
    return groupFirewallPolicy(
      group.id,
      group.orgId,
      await this.effective(group.orgId, group.projectId),
      group,
    );
  }
}

/** The org's own policy with no group on top: what its default group applies. */
export async function orgDefaultPolicy(storage: Storage, orgId: string): Promise<FirewallPolicy> {
  return orgFirewallPolicy(orgId, await new DnsPolicyLookup(storage).effective(orgId, null));
}

/**
 * Everything the resolver needs, for the whole installation: every zone
 * with its records, every client group with its computed policy, every
 * client that is not revoked. Built whole on each change and swapped in
 * whole, so the resolver never sees half an edit.
 */
export async function buildSnapshot(storage: Storage): Promise<DnsSnapshot> {
  const zoneStore = new ZoneStore(storage);
  const storedZones = await zoneStore.list(null);
  const byZone = new Map<string, Zone>();
  const zones: Zone[] = storedZones.map((z) => {
    const zone: Zone = { name: z.name, orgId: z.orgId, records: [] };
    byZone.set(z.id, zone);
    return zone;
  });
  for (const r of await zoneStore.records(null)) {
    byZone.get(r.zoneId)?.records.push({ name: r.name, type: r.type, ttl: r.ttl, data: r.data });
  }

  const lookup = new DnsPolicyLookup(storage);
  const groups: ClientGroup[] = [];
  for (const g of await new ClientGroupStore(storage).list(null)) {
    groups.push({
      id: g.id,
      orgId: g.orgId,
      projectId: g.projectId,
      name: g.name,
      sourceCidrs: [...g.sourceCidrs],
      policy: await lookup.groupPolicy(g),
    });
  }

  const clients: DnsClient[] = (await new DnsClientStore(storage).listActive()).map((c) => ({
    id: c.id,
    groupId: c.groupId,
    name: c.name,
    tokenHash: c.tokenHash,
    certFingerprint: c.certFingerprint,
  }));
  return { zones, groups, clients };
}

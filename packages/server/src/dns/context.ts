import type { AuditEvent } from '../audit/ledger/entry.ts';
import { BulwarkError } from '../errors.ts';
import type { Storage } from '../storage/storage.ts';
import { ClientGroupStore, type StoredGroup } from './client-groups.ts';
import { DnsClientStore, type StoredClient } from './clients.ts';
import { type StoredZone, ZoneStore } from './zones.ts';

/** One DNS change in progress: its transaction's storage, its time, and its ledger entries. */
export interface DnsTx {
  storage: Storage;
  now: Date;
  /** Appends a ledger entry in this transaction (the actor and org are the change's). */
  record(
    event: Pick<AuditEvent, 'action' | 'target' | 'before' | 'after'> & {
      projectId?: string | null;
    },
  ): Promise<void>;
}

/**
 * Sub-resources are named by plain ids under `/v1/orgs/:orgId/dns/…`; the
 * guard authorized the org, and these look-ups make sure the id belongs to
 * it. Another org's id answers exactly like an id that was never used.
 */
export async function zoneOfOrg(
  storage: Storage,
  orgId: string,
  zoneId: string,
): Promise<StoredZone> {
  const zone = await new ZoneStore(storage).get(zoneId);
  if (zone?.orgId !== orgId) throw new BulwarkError('not_found', 'No such DNS zone.');
  return zone;
}

export async function groupOfOrg(
  storage: Storage,
  orgId: string,
  groupId: string,
): Promise<StoredGroup> {
  const group = await new ClientGroupStore(storage).get(groupId);
  if (group?.orgId !== orgId) throw new BulwarkError('not_found', 'No such DNS client group.');
  return group;
}

export async function clientOfOrg(
  storage: Storage,
  orgId: string,
  clientId: string,
): Promise<{ client: StoredClient; group: StoredGroup }> {
  const client = await new DnsClientStore(storage).get(clientId);
  const group = client ? await new ClientGroupStore(storage).get(client.groupId) : null;
  if (!client || group?.orgId !== orgId) throw new BulwarkError('not_found', 'No such DNS client.');
  return { client, group };
}

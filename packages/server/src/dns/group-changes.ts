import { hashClientToken } from '@bulwark/dns';
import { ProjectStore } from '../directory/projects.ts';
import { BulwarkError } from '../errors.ts';
import { cidrInside } from '../policy/effective.ts';
import { type AddressRange, parseCidr } from '../policy/policy.ts';
import { ClientGroupStore, type GroupSettings, type StoredGroup } from './client-groups.ts';
import { DnsClientStore, newClientToken, type StoredClient } from './clients.ts';
import { clientOfOrg, type DnsTx, groupOfOrg } from './context.ts';
import { certificateFingerprint, limits } from './inputs.ts';

/** Where the resolver answers at all (its configured ranges); null when not configured. */
export type AllowedRanges = readonly string[] | null;

export async function createGroup(
  tx: DnsTx,
  orgId: string,
  settings: GroupSettings,
  allowed: AllowedRanges,
): Promise<StoredGroup> {
  const groups = new ClientGroupStore(tx.storage);
  if ((await groups.countForOrg(orgId)) >= limits.groupsPerOrg) {
    throw new BulwarkError(
      'conflict',
      `An org may have at most ${limits.groupsPerOrg} DNS client groups.`,
    );
  }
  await checkSettings(tx, orgId, null, settings, allowed);
  const group = await groups.create(orgId, settings, tx.now);
  await tx.record({
    action: 'dns.group.create',
    target: { type: 'dns-group', id: group.id },
    after: group,
    projectId: group.projectId,
  });
  return group;
}

/** Replaces a group's settings as a whole (like a policy: what is left out is gone). */
export async function updateGroup(
  tx: DnsTx,
  orgId: string,
  groupId: string,
  settings: GroupSettings,
  allowed: AllowedRanges,
): Promise<StoredGroup> {
  const before = await groupOfOrg(tx.storage, orgId, groupId);
  await checkSettings(tx, orgId, before.id, settings, allowed);
  const after = await new ClientGroupStore(tx.storage).update(before, settings, tx.now);
  await tx.record({
    action: 'dns.group.update',
    target: { type: 'dns-group', id: after.id },
    before,
    after,
    projectId: after.projectId,
  });
  return after;
}

/**
 * Deletes a group once no device depends on it: its clients would silently
 * fall back to another policy, so they are revoked first, on purpose.
 */
export async function deleteGroup(tx: DnsTx, orgId: string, groupId: string): Promise<void> {
  const group = await groupOfOrg(tx.storage, orgId, groupId);
  const active = await new DnsClientStore(tx.storage).countActive(group.id);
  if (active > 0) {
    throw new BulwarkError(
      'conflict',
      `The group has ${active} active DNS ${active === 1 ? 'client' : 'clients'}: revoke them first.`,
    );
  }
  await new ClientGroupStore(tx.storage).delete(group.id);
  await tx.record({
    action: 'dns.group.delete',
    target: { type: 'dns-group', id: group.id },
    before: group,
    projectId: group.projectId,
  });
}

/**
 * Registers a device: a fresh DoH URL token (returned once, stored only as
 * its SHA-256) and, when given, its DoT client certificate's fingerprint.
 */
export async function createClient(
  tx: DnsTx,
  orgId: string,
  groupId: string,
  input: { name: string; certificatePem?: string | undefined },
): Promise<{ client: StoredClient; token: string }> {
  const group = await groupOfOrg(tx.storage, orgId, groupId);
  const clients = new DnsClientStore(tx.storage);
  if ((await clients.countActive(group.id)) >= limits.clientsPerGroup) {
    throw new BulwarkError(
      'conflict',
      `A group may have at most ${limits.clientsPerGroup} clients.`,
    );
  }
  const fingerprint =
    input.certificatePem === undefined ? null : certificateFingerprint(input.certificatePem);
  // Revoked ones too: a certificate, once revoked, must not come back under another name.
  if (fingerprint !== null && (await clients.withFingerprint(fingerprint))) {
    throw new BulwarkError('conflict', 'That certificate is registered already.');
  }
  const token = newClientToken();
  const client = await clients.create(
    {
      groupId: group.id,
      name: input.name,
      tokenHash: hashClientToken(token),
      certFingerprint: fingerprint,
    },
    tx.now,
  );
  // The entry names the device, never its token (nor the token's hash).
  await tx.record({
    action: 'dns.client.create',
    target: { type: 'dns-client', id: client.id },
    after: client,
    projectId: group.projectId,
  });
  return { client, token };
}

export async function revokeClient(tx: DnsTx, orgId: string, clientId: string): Promise<void> {
  const { client, group } = await clientOfOrg(tx.storage, orgId, clientId);
  if (client.revokedAt !== null)
    throw new BulwarkError('conflict', 'That DNS client is revoked already.');
  await new DnsClientStore(tx.storage).revoke(client.id, tx.now);
  await tx.record({
    action: 'dns.client.revoke',
    target: { type: 'dns-client', id: client.id },
    before: client,
    after: { ...client, revokedAt: tx.now.toISOString() },
    projectId: group.projectId,
  });
}

/**
 * What the schema cannot see: the project is one of this org's, the name is
 * free in the org, and the ranges stay where they belong. A range shared
 * with another org's group would put one tenant's devices under the other's
 * policy and in the other's query log; a range outside the resolver's
 * allowed ones would open it to clients the operator never meant to serve.
 */
async function checkSettings(
  tx: DnsTx,
  orgId: string,
  selfId: string | null,
  settings: GroupSettings,
  allowed: AllowedRanges,
): Promise<void> {
  if (settings.projectId !== null) {
    const project = await new ProjectStore(tx.storage).get(settings.projectId);
    if (project?.orgId !== orgId)
      throw new BulwarkError('not_found', 'No such project in this org.');
  }
  const groups = new ClientGroupStore(tx.storage);
  const named = await groups.findByName(orgId, settings.name);
  if (named && named.id !== selfId) {
    throw new BulwarkError(
      'conflict',
      `The org has a DNS client group named "${settings.name}" already.`,
    );
  }
  if (allowed !== null) {
    const outside = settings.sourceCidrs.filter((range) => !cidrInside(range, allowed));
    if (outside.length > 0) {
      throw new BulwarkError(
        'bad_request',
        `sourceCidrs: ${outside.join(', ')} ${outside.length === 1 ? 'is' : 'are'} outside the ranges this resolver serves.`,
      );
    }
  }
  if (settings.sourceCidrs.length === 0) return;
  const mine = settings.sourceCidrs.map(rangeOf);
  for (const other of await groups.list(null)) {
    if (other.orgId === orgId) continue;
    for (const theirs of other.sourceCidrs.map(rangeOf)) {
      const clash = mine.find((r) => r.first <= theirs.last && theirs.first <= r.last);
      if (clash) {
        throw new BulwarkError(
          'conflict',
          `sourceCidrs: ${clash.text} overlaps the range of another org's client group.`,
        );
      }
    }
  }
}

/** Ranges were canonicalised by the schema, so they parse. */
function rangeOf(text: string): AddressRange {
  const range = parseCidr(text);
  if ('error' in range) throw new Error(`stored range ${text} does not parse`);
  return range;
}

import { checkRecord, type ZoneRecord } from '@bulwark/dns';
import { BulwarkError } from '../errors.ts';
import { type DnsTx, zoneOfOrg } from './context.ts';
import { limits } from './inputs.ts';
import { type StoredRecord, type StoredZone, ZoneStore } from './zones.ts';

/** The record as an admin typed it; `checkRecord` decides what it means. */
export interface RecordInput {
  name: string;
  type: string;
  ttl?: number | undefined;
  data: string;
}

/**
 * A new zone for the org. An apex is the installation's to give once: no
 * two orgs may hold the same name, nor one a name inside another org's zone
 * (it would answer for names the other org owns), nor a zone around one.
 */
export async function createZone(tx: DnsTx, orgId: string, name: string): Promise<StoredZone> {
  const zones = new ZoneStore(tx.storage);
  if ((await zones.countForOrg(orgId)) >= limits.zonesPerOrg) {
    throw new BulwarkError('conflict', `An org may have at most ${limits.zonesPerOrg} DNS zones.`);
  }
  for (const other of await zones.list(null)) {
    if (other.name === name) {
      throw new BulwarkError(
        'conflict',
        other.orgId === orgId
          ? `This org has the zone ${name} already.`
          : `${name} is managed by another org.`,
      );
    }
    if (other.orgId === orgId) continue;
    if (name.endsWith(`.${other.name}`)) {
      throw new BulwarkError(
        'conflict',
        `${name} lies inside ${other.name}, which another org manages.`,
      );
    }
    if (other.name.endsWith(`.${name}`)) {
      throw new BulwarkError(
        'conflict',
        `${name} would contain ${other.name}, which another org manages.`,
      );
    }
  }
  const zone = await zones.create(orgId, name, tx.now);
  await tx.record({
    action: 'dns.zone.create',
    target: { type: 'dns-zone', id: zone.id },
    after: zone,
  });
  return zone;
}

/** Deletes a zone with every record in it. */
export async function deleteZone(tx: DnsTx, orgId: string, zoneId: string): Promise<void> {
  const zone = await zoneOfOrg(tx.storage, orgId, zoneId);
  const zones = new ZoneStore(tx.storage);
  const records = await zones.records([zone.id]);
  await zones.delete(zone.id);
  await tx.record({
    action: 'dns.zone.delete',
    target: { type: 'dns-zone', id: zone.id },
    before: { ...zone, records: records.map(recordView) },
  });
}

export async function addRecord(
  tx: DnsTx,
  orgId: string,
  zoneId: string,
  input: RecordInput,
): Promise<StoredRecord> {
  const zone = await zoneOfOrg(tx.storage, orgId, zoneId);
  const record = checked(input, zone);
  const zones = new ZoneStore(tx.storage);
  if ((await zones.countRecords(zone.id)) >= limits.recordsPerZone) {
    throw new BulwarkError('conflict', `A zone may hold at most ${limits.recordsPerZone} records.`);
  }
  refuseClash(await zones.recordsAt(zone.id, record.name), record);
  const stored = await zones.addRecord(zone.id, record, tx.now);
  await tx.record({
    action: 'dns.record.create',
    target: { type: 'dns-record', id: stored.id },
    after: recordView(stored),
  });
  return stored;
}

export async function replaceRecord(
  tx: DnsTx,
  orgId: string,
  zoneId: string,
  recordId: string,
  input: RecordInput,
): Promise<StoredRecord> {
  const zone = await zoneOfOrg(tx.storage, orgId, zoneId);
  const zones = new ZoneStore(tx.storage);
  const existing = await recordOfZone(zones, zone, recordId);
  const record = checked(input, zone);
  const others = (await zones.recordsAt(zone.id, record.name)).filter((r) => r.id !== existing.id);
  refuseClash(others, record);
  const stored = await zones.replaceRecord(existing, record, tx.now);
  await tx.record({
    action: 'dns.record.update',
    target: { type: 'dns-record', id: stored.id },
    before: recordView(existing),
    after: recordView(stored),
  });
  return stored;
}

export async function deleteRecord(
  tx: DnsTx,
  orgId: string,
  zoneId: string,
  recordId: string,
): Promise<void> {
  const zone = await zoneOfOrg(tx.storage, orgId, zoneId);
  const zones = new ZoneStore(tx.storage);
  const existing = await recordOfZone(zones, zone, recordId);
  await zones.deleteRecord(existing.id);
  await tx.record({
    action: 'dns.record.delete',
    target: { type: 'dns-record', id: existing.id },
    before: recordView(existing),
  });
}

export type RecordView = ReturnType<typeof recordView>;

/** What the API shows of a record. */
export function recordView(r: StoredRecord) {
  return {
    id: r.id,
    zoneId: r.zoneId,
    name: r.name,
    type: r.type,
    ttl: r.ttl,
    data: r.data,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

async function recordOfZone(zones: ZoneStore, zone: StoredZone, recordId: string) {
  const record = await zones.getRecord(recordId);
  if (record?.zoneId !== zone.id) throw new BulwarkError('not_found', 'No such DNS record.');
  return record;
}

function checked(input: RecordInput, zone: StoredZone): ZoneRecord {
  const result = checkRecord(input, zone.name);
  if (!result.ok) throw new BulwarkError('bad_request', `Record refused: ${result.error}.`);
  // checkRecord keeps names inside the zone; a record outside it would be served for another's name.
  const { name } = result.record;
  if (name !== zone.name && !name.endsWith(`.${zone.name}`)) {
    throw new BulwarkError('bad_request', `Record refused: ${name} is not inside ${zone.name}.`);
  }
  return result.record;
}

/**
 * A CNAME says "this name is that other name", so nothing else may sit
 * beside it (RFC 1034 §3.6.2, RFC 2181 §10.1); an exact duplicate would be
 * served twice.
 */
function refuseClash(atName: readonly ZoneRecord[], record: ZoneRecord): void {
  if (atName.some((r) => r.type === record.type && r.data === record.data)) {
    throw new BulwarkError('conflict', `${record.name} has this ${record.type} record already.`);
  }
  if (record.type === 'CNAME' && atName.length > 0) {
    const types = [...new Set(atName.map((r) => r.type))].join(', ');
    throw new BulwarkError(
      'conflict',
      `${record.name} already has ${types} data: a CNAME must be the only record at its name (RFC 1034 §3.6.2).`,
    );
  }
  if (record.type !== 'CNAME' && atName.some((r) => r.type === 'CNAME')) {
    throw new BulwarkError(
      'conflict',
      `${record.name} is a CNAME: no other record may sit beside it (RFC 1034 §3.6.2).`,
    );
  }
}

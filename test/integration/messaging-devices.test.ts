import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildWorld } from '../support/directory-world.ts';
import { allJoined, startDevice, type TestDevice } from '../support/messaging.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

async function readyServer(t: Parameters<typeof startTestServer>[0]) {
  const server = await startTestServer(t, { dataDir: tempDir(t) });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'messaging devices passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  return { server, world: await buildWorld(server) };
}

const rosterDevices = async (d: TestDevice, conversation: string) =>
  (await d.client.conversation(conversation)).roster.map((r) => r.deviceId);

async function ledgerActions(server: Awaited<ReturnType<typeof readyServer>>['server']) {
  const rows = await server.handle
    .storage()
    .db.selectFrom('audit_entries')
    .select('action')
    .execute();
  return rows.map((r) => r.action);
}

describe('messaging devices', () => {
  it('where policy requires it, a new device joins only once another device of its person verifies it', async (t) => {
    const { server, world } = await readyServer(t);
    const owner = await startDevice(t, server, world.people.orgOwner.id, 'owner');
    // Externals must verify their devices by default (the org's policy for partners).
    const laptop = await startDevice(t, server, world.people.externalMember.id, 'partner laptop');
    const channel = await owner.client.createChannel(world.apollo, 'verified');
    await owner.client.sync(channel.id);
    await allJoined([owner, laptop], channel.id);

    const phone = await startDevice(t, server, world.people.externalMember.id, 'partner phone');
    const phoneId = phone.client.device?.deviceId as string;
    assert.equal(phone.client.device?.status, 'pending');
    await owner.client.sync(channel.id);
    const before = await owner.client.conversation(channel.id);
    assert.ok(!before.missing.some((m) => m.deviceId === phoneId), 'not entitled while pending');
    assert.ok(!(await rosterDevices(owner, channel.id)).includes(phoneId));
    await owner.client.send(channel.id, 'before the phone was verified');

    // The laptop vouches for the phone (it signs the phone's identity key).
    await laptop.client.verifyDevice(phoneId);
    await phone.client.waitUntil(
      async () => (await phone.client.membership(channel.id)).joined,
      30_000,
      'the verified phone is added',
    );
    await owner.client.send(channel.id, 'after the phone was verified');
    await phone.client.waitUntil(
      () => phone.texts(channel.id).includes('after the phone was verified'),
      20_000,
    );
    assert.ok(
      !phone.texts(channel.id).includes('before the phone was verified'),
      'a new device does not read what was sent before it joined',
    );
    // Others were told a new device of the partner appeared.
    assert.ok(
      owner.events.some(
        (e) => e.type === 'warning' && e.kind === 'new-device' && e.deviceId === phoneId,
      ),
      'the owner was warned about the new device',
    );
  });

  it('an org admin verifies a member’s device; another org’s admin cannot', async (t) => {
    const { server, world } = await readyServer(t);
    await startDevice(t, server, world.people.externalMember.id, 'first');
    const second = await startDevice(t, server, world.people.externalMember.id, 'second');
    const id = second.client.device?.deviceId as string;
    const acmeAdmin = await world.call('orgOwner', `/v1/orgs/${world.acme}/devices/${id}/verify`, {
      method: 'POST',
      body: {},
    });
    assert.equal(acmeAdmin.status, 404, 'Acme administers no Globex device');
    const globexAdmin = await world.call(
      'partnerAdmin',
      `/v1/orgs/${world.globex}/devices/${id}/verify`,
      { method: 'POST', body: {} },
    );
    assert.equal(globexAdmin.status, 200, globexAdmin.body);
    assert.equal(JSON.parse(globexAdmin.body).device.verifiedBy.kind, 'admin');
    assert.ok((await ledgerActions(server)).includes('messaging.device.verify'));
  });

  it('a revoked device is removed from its conversations and its socket closed', async (t) => {
    const { server, world } = await readyServer(t);
    const owner = await startDevice(t, server, world.people.orgOwner.id, 'owner');
    const keep = await startDevice(t, server, world.people.internalMember.id, 'kept');
    const lost = await startDevice(t, server, world.people.internalMember.id, 'lost');
    const lostId = lost.client.device?.deviceId as string;
    const channel = await owner.client.createChannel(world.apollo, 'revocation');
    await owner.client.sync(channel.id);
    await allJoined([owner, keep, lost], channel.id);

    await keep.client.revokeDevice(lostId);
    await owner.client.waitUntil(
      async () => !(await rosterDevices(owner, channel.id)).includes(lostId),
      30_000,
      'the revoked device leaves the group',
    );
    await lost.client.waitUntil(
      () => lost.events.some((e) => e.type === 'error' && e.fatal),
      30_000,
      'the revoked device is told',
    );
    await owner.client.send(channel.id, 'after the revocation');
    await keep.client.waitUntil(
      () => keep.texts(channel.id).includes('after the revocation'),
      20_000,
    );
    assert.ok(!lost.texts(channel.id).includes('after the revocation'));
    const devices = await keep.client.devices();
    assert.equal(devices.find((d) => d.id === lostId)?.status, 'revoked');
  });

  it('safety numbers agree on both sides and change when a device is added', async (t) => {
    const { server, world } = await readyServer(t);
    const a = await startDevice(t, server, world.people.orgOwner.id, 'a');
    const b = await startDevice(t, server, world.people.internalMember.id, 'b');
    const ab = await a.client.safetyNumber(world.people.internalMember.id);
    const ba = await b.client.safetyNumber(world.people.orgOwner.id);
    assert.match(ab, /^(\d{5} ){11}\d{5}$/);
    assert.equal(ab, ba);
    await startDevice(t, server, world.people.internalMember.id, 'b2');
    // The new device is unverified; once verified it counts.
    const b2 = (await b.client.devices()).find((d) => d.status === 'pending');
    assert.ok(b2);
    await b.client.verifyDevice(b2.id);
    assert.notEqual(await a.client.safetyNumber(world.people.internalMember.id), ab);
  });

  it('a device key the server swaps is flagged to the people who saw the old one', async (t) => {
    const { server, world } = await readyServer(t);
    const a = await startDevice(t, server, world.people.orgOwner.id, 'a');
    const b = await startDevice(t, server, world.people.internalMember.id, 'b');
    await a.client.devices(world.people.internalMember.id);
    // A malicious server (or database) replaces b's registered key.
    const other = await startDevice(t, server, world.people.internalViewer.id, 'other');
    const otherKey = (await other.client.devices()).find(
      (d) => d.id === other.client.device?.deviceId,
    )?.signaturePublicKey;
    await server.handle
      .storage()
      .db.updateTable('messaging_devices')
      .set({ signature_public_key: `${otherKey}`.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) })
      .where('id', '=', b.client.device?.deviceId as string)
      .execute();
    await a.client.devices(world.people.internalMember.id);
    assert.ok(
      a.events.some(
        (e) =>
          e.type === 'warning' &&
          e.kind === 'key-changed' &&
          e.deviceId === b.client.device?.deviceId,
      ),
      'the key change is shown',
    );
  });

  it('a group whose every device is gone starts over, and the people still entitled meet in it', async (t) => {
    const { server, world } = await readyServer(t);
    const only = await startDevice(t, server, world.people.orgOwner.id, 'only device');
    const channel = await only.client.createChannel(world.apollo, 'lonely');
    await only.client.sync(channel.id);
    await allJoined([only], channel.id);
    const before = await only.client.conversation(channel.id);
    await only.client.revokeDevice(only.client.device?.deviceId as string);

    const replacement = await startDevice(t, server, world.people.orgOwner.id, 'new laptop');
    const colleague = await startDevice(t, server, world.people.internalMember.id, 'colleague');
    await replacement.client.waitUntil(
      async () => {
        const view = await replacement.client.conversation(channel.id);
        return view.groupId !== before.groupId && view.roster.length === 2;
      },
      30_000,
      'a new group with both devices',
    );
    assert.ok((await ledgerActions(server)).includes('messaging.group.reset'));
    await allJoined([replacement, colleague], channel.id);
    await replacement.client.send(channel.id, 'starting over');
    await colleague.client.waitUntil(
      () => colleague.texts(channel.id).includes('starting over'),
      20_000,
    );
  });
});

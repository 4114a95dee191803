import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildWorld, givePasskey } from '../support/directory-world.ts';
import { allJoined, startDevice } from '../support/messaging.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

async function readyServer(t: Parameters<typeof startTestServer>[0]) {
  const server = await startTestServer(t, { dataDir: tempDir(t) });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'messaging test passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  return { server, world: await buildWorld(server) };
}

describe('end-to-end encrypted messaging through the real server', () => {
  it('three people, five devices: every message arrives decrypted on every device, in order', async (t) => {
    const { server, world } = await readyServer(t);
    const owner = world.people.orgOwner.id;
    const member = world.people.internalMember.id;
    const external = world.people.externalMember.id;
    const a1 = await startDevice(t, server, owner, 'owner laptop');
    const a2 = await startDevice(t, server, owner, 'owner phone');
    const b1 = await startDevice(t, server, member, 'member laptop');
    const b2 = await startDevice(t, server, member, 'member phone');
    const c1 = await startDevice(t, server, external, 'external laptop');
    const devices = [a1, a2, b1, b2, c1];

    const channel = await a1.client.createChannel(world.apollo, 'launch');
    await a1.client.sync(channel.id);
    await allJoined(devices, channel.id);

    const sent: string[] = [];
    for (const [i, d] of devices.entries()) {
      for (let n = 0; n < 3; n++) {
        const text = `${d.name} says ${n} (${i})`;
        await d.client.send(channel.id, text);
        sent.push(text);
      }
    }
    // Every device has every message (its own as sent, the others' decrypted), in the
    // order the server accepted them.
    for (const d of devices) {
      await d.client.waitUntil(
        () => d.texts(channel.id).length >= sent.length,
        30_000,
        `${d.name} has ${sent.length} messages`,
      );
      assert.deepEqual(d.texts(channel.id), sent, d.name);
      const received = d.events.filter(
        (e) => e.type === 'message' && e.conversation === channel.id && !e.own,
      );
      assert.equal(received.length, sent.length - 3, `${d.name} decrypted the others' messages`);
    }
  });

  it('an org that chooses the post-quantum suite gets X-Wing groups, and they work', async (t) => {
    const { server, world } = await readyServer(t);
    await givePasskey(server, world.people.orgOwner.id, '00000000-0000-0000-0000-000000000000');
    const current = JSON.parse(
      (await world.call('orgOwner', `/v1/orgs/${world.acme}/policy`)).body,
    );
    const changed = await world.call('orgOwner', `/v1/orgs/${world.acme}/policy`, {
      method: 'PUT',
      body: { ...(current.policy ?? current), e2eeCiphersuite: 'post-quantum' },
    });
    assert.equal(changed.status, 200, changed.body);
    const a = await startDevice(t, server, world.people.orgOwner.id, 'a');
    const b = await startDevice(t, server, world.people.externalMember.id, 'b');
    const channel = await a.client.createChannel(world.apollo, 'quantum-safe');
    assert.equal(channel.ciphersuite, 'MLS_256_XWING_AES256GCM_SHA512_Ed25519');
    await a.client.sync(channel.id);
    await allJoined([a, b], channel.id);
    await a.client.send(channel.id, 'hello in X-Wing');
    await b.client.waitUntil(() => b.texts(channel.id).includes('hello in X-Wing'), 20_000);
    await b.client.send(channel.id, 'and back');
    await a.client.waitUntil(() => a.texts(channel.id).includes('and back'), 20_000);
  });
});

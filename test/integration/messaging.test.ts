import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildWorld } from '../support/directory-world.ts';
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
});

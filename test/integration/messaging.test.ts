import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asMessageId } from '@bulwark/crypto';
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

  it('replies, edits, deletions and reactions reach the other devices; only authors edit', async (t) => {
    const { server, world } = await readyServer(t);
    const a = await startDevice(t, server, world.people.orgOwner.id, 'a');
    const b = await startDevice(t, server, world.people.internalMember.id, 'b');
    const channel = await a.client.createChannel(world.apollo, 'edits');
    await a.client.sync(channel.id);
    await allJoined([a, b], channel.id);
    const first = await a.client.send(channel.id, 'lunch at 12?');
    const doomed = await a.client.send(channel.id, 'typo mesage');
    const lunchId = asMessageId(first.messageId);
    const doomedId = asMessageId(doomed.messageId);
    await b.client.send(channel.id, { kind: 'reply', to: lunchId, text: 'yes' });
    await b.client.send(channel.id, { kind: 'reaction', target: lunchId, emoji: '👍' });
    await a.client.send(channel.id, {
      kind: 'edit',
      target: lunchId,
      text: 'lunch at 12:30?',
    });
    await a.client.send(channel.id, { kind: 'delete', target: doomedId });
    // b tries to edit a's message: its own device shows it as refused, a's ignores it.
    await b.client.send(channel.id, { kind: 'edit', target: lunchId, text: 'hijacked' });
    await a.client.send(channel.id, 'sync point');

    const byId = async (d: typeof a) => {
      const timeline = await d.client.timeline(channel.id);
      return new Map(timeline.fold.messages.map((m) => [m.id as string, m]));
    };
    for (const d of [a, b]) {
      await d.client.waitUntil(() => d.texts(channel.id).includes('sync point'), 20_000);
      const messages = await byId(d);
      const lunch = messages.get(first.messageId);
      assert.equal(lunch?.text, 'lunch at 12:30?', `${d.name}: the author's edit holds`);
      assert.ok(lunch?.editedAt, `${d.name}: marked edited`);
      assert.deepEqual(
        lunch?.reactions.map((r) => r.emoji),
        ['👍'],
        `${d.name}: the reaction`,
      );
      assert.equal(messages.get(doomed.messageId)?.deleted, true, `${d.name}: deleted`);
      const reply = [...messages.values()].find((m) => m.kind === 'reply');
      assert.equal(reply?.replyTo, first.messageId, `${d.name}: the reply points at its message`);
    }
  });
});

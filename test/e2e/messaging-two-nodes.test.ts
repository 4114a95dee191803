/**
 * End-to-end encrypted messaging across two real `npm start` nodes of one
 * installation (shared PostgreSQL schema, NATS bus), with the real client
 * (MessagingClient) on every device: a device's socket is on one node, and
 * what is sent through the other node reaches it decrypted, in order. Then
 * the directory removes a person through node A, the Delivery Service
 * proposes the removal, a member commits it, and the removed device hears
 * nothing more while the others go on.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import type { ChatEvent } from '@bulwark/chat';
import type { ConversationView } from '@bulwark/protocol';
import { type ServerProcess, startServerProcess } from '../support/bulwark-process.ts';
import {
  type ApiTarget,
  api,
  apiOk,
  bearerSession,
  createPerson,
  createProject,
  homeOrg,
  initWithFirstAdmin,
  type Person,
} from '../support/installation-api.ts';
import { allJoined } from '../support/messaging.ts';
import { natsUrl } from '../support/nats.ts';
import { postgresSchema } from '../support/postgres.ts';
import { type RemoteDevice, startRemoteDevice } from '../support/remote-device.ts';
import { tempDir } from '../support/temp.ts';

const passphrase = 'two nodes carry one conversation';

type Membership = Extract<ChatEvent, { type: 'membership' }>;

it('messages cross nodes decrypted and in order; a removed member hears nothing after', {
  timeout: 90_000,
}, async (t) => {
  // Registered first, so devices close and servers stop before the directories and schema go.
  const servers: ServerProcess[] = [];
  const devices: RemoteDevice[] = [];
  t.after(async () => {
    await Promise.all(devices.map((d) => d.client.close()));
    for (const server of servers) await server.stop();
  });
  const pg = await postgresSchema(t);
  if (!pg) return;
  const nats = await natsUrl(t);
  if (!nats) return;
  const env = { DATABASE_URL: pg.url, BULWARK_DB_SCHEMA: pg.schema, BULWARK_NATS_URL: nats };

  // Node A is initialised; node B runs on a copy of its data directory (keyring, TLS) and is
  // unsealed with the passphrase.
  const base = tempDir(t);
  const procA = await startServerProcess(join(base, 'a'), { env });
  servers.push(procA);
  const ca = readFileSync(join(procA.dataDir, 'tls', 'ca.crt'), 'utf8');
  const nodeA = { url: procA.url, ca, name: 'A' };
  const ada = await initWithFirstAdmin(nodeA, passphrase, { username: 'ada', displayName: 'Ada' });
  cpSync(procA.dataDir, join(base, 'b'), { recursive: true });
  const procB = await startServerProcess(join(base, 'b'), { env });
  servers.push(procB);
  const nodeB = { url: procB.url, ca, name: 'B' };
  const unsealed = await apiOk<{ state: string }>(nodeB, '/v1/sys/unseal', 200, {
    method: 'POST',
    body: { passphrase },
  });
  assert.equal(unsealed.state, 'unsealed');

  // Three people of one org in one project, all over the API of node A.
  const adaToken = await bearerSession(nodeA, ada);
  const bob = await createPerson(nodeA, adaToken, { username: 'bob', displayName: 'Bob' });
  const carol = await createPerson(nodeA, adaToken, { username: 'carol', displayName: 'Carol' });
  const orgId = await homeOrg(nodeA, adaToken);
  const projectId = await createProject(nodeA, adaToken, orgId, { key: 'APOLLO', name: 'Apollo' }, [
    bob.id,
    carol.id,
  ]);

  // Every device has its own session (made on node A; sessions live in the shared database)
  // and its socket on the node it is given. Ada's and Bob's two devices are on both nodes.
  const device = async (node: ApiTarget & { name: string }, person: Person, name: string) => {
    const d = await startRemoteDevice(
      t,
      node,
      { userId: person.id, token: await bearerSession(nodeA, person) },
      name,
    );
    devices.push(d);
    return d;
  };
  const adaLaptop = await device(nodeA, ada, 'ada laptop');
  const bobLaptop = await device(nodeA, bob, 'bob laptop');
  const adaPhone = await device(nodeB, ada, 'ada phone');
  const bobPhone = await device(nodeB, bob, 'bob phone');
  const carolLaptop = await device(nodeB, carol, 'carol laptop');
  const onB = [adaPhone, bobPhone, carolLaptop];

  // The channel is made and established on node A; the devices on node B are added by commits
  // made on node A and join from Welcomes that node B hands them.
  const channel = await adaLaptop.client.createChannel(projectId, 'launch');
  await adaLaptop.client.sync(channel.id);
  await allJoined(devices, channel.id, 30_000);
  const view = async (node: ApiTarget) => {
    const path = `/v1/conversations/${channel.id}`;
    const answer = await apiOk<{ conversation: ConversationView }>(node, path, 200, {
      token: adaToken,
    });
    return answer.conversation;
  };
  const established = await view(nodeB);
  assert.notEqual(established.epoch, null, 'the group is established');
  assert.deepEqual(
    established.roster.map((r) => r.deviceId).sort(),
    devices.map((d) => d.deviceId).sort(),
    'every device of the three people is a leaf of the group',
  );

  // Sends alternate between the nodes; each is accepted before the next goes.
  const order = [adaLaptop, bobPhone, bobLaptop, carolLaptop, adaPhone];
  const sent: string[] = [];
  for (let round = 0; round < 2; round++) {
    for (const d of order) {
      const text = `${d.name} via node ${d.node}, round ${round}`;
      await d.client.send(channel.id, text);
      sent.push(text);
    }
  }
  const haveAll = async (ds: readonly RemoteDevice[], texts: readonly string[], what: string) => {
    for (const d of ds) {
      await d.client.waitUntil(
        () => d.texts(channel.id).length >= texts.length,
        20_000,
        `${d.name} (node ${d.node}) has ${texts.length} messages ${what}`,
      );
      assert.deepEqual(d.texts(channel.id), texts, `${d.name} (node ${d.node}): ${what}`);
    }
  };
  await haveAll(devices, sent, 'in the order the server accepted them');
  for (const d of onB) {
    // Decrypted here, not echoed: what node A's devices sent reached node B's sockets.
    const fromA = d.events.filter(
      (e) =>
        e.type === 'message' &&
        e.conversation === channel.id &&
        !e.own &&
        (e.sender.deviceId === adaLaptop.deviceId || e.sender.deviceId === bobLaptop.deviceId),
    );
    assert.equal(fromA.length, 4, `${d.name} decrypted the 4 messages sent through node A`);
  }
  for (const d of [adaLaptop, bobLaptop]) {
    const fromB = d.events.filter(
      (e) =>
        e.type === 'message' &&
        e.conversation === channel.id &&
        !e.own &&
        onB.some((b) => b.deviceId === e.sender.deviceId),
    );
    assert.equal(fromB.length, 6, `${d.name} decrypted the 6 messages sent through node B`);
  }

  // Carol leaves the project (through node A's API). Listeners first: only later events count.
  const removesCarol = (e: ChatEvent): e is Membership =>
    e.type === 'membership' &&
    e.conversation === channel.id &&
    e.removed.some((m) => m.deviceId === carolLaptop.deviceId);
  const seenOnB = [adaPhone, bobPhone].map((d) => d.client.waitFor(removesCarol, 20_000));
  const carolMark = carolLaptop.events.length;
  const removed = await api(nodeA, `/v1/projects/${projectId}/members/${carol.id}`, {
    method: 'DELETE',
    token: adaToken,
  });
  assert.equal(removed.status, 204, removed.body);

  // Some member commits the server's proposal; the devices on node B see the change.
  const changes = (await Promise.all(seenOnB)) as Membership[];
  for (const change of changes) {
    assert.ok(change.epoch > (established.epoch ?? 0), 'the removal is a new epoch');
    assert.deepEqual(
      change.removed.map((m) => [m.userId, m.deviceId]),
      [[carol.id, carolLaptop.deviceId]],
      'exactly Carol’s device is removed',
    );
    assert.equal(change.selfRemoved, false);
  }
  const after = await view(nodeB);
  assert.deepEqual(
    after.roster.map((r) => r.deviceId).sort(),
    devices
      .filter((d) => d !== carolLaptop)
      .map((d) => d.deviceId)
      .sort(),
    'Carol’s device is no longer a leaf',
  );
  assert.deepEqual(after.pendingRemovals, [], 'the proposal was committed');
  // It was the server that proposed it (as the group's external sender), not a member.
  const ledger = await apiOk<{
    entries: {
      entry: { action: string; actor: { kind: string }; target: { id: string }; project: string };
    }[];
  }>(nodeA, `/v1/audit/entries?limit=1000`, 200, { token: adaToken });
  const proposed = ledger.entries
    .map((e) => e.entry)
    .filter((e) => e.action === 'messaging.group.remove-proposed');
  assert.deepEqual(
    proposed.map((e) => [e.actor.kind, e.target.id, e.project]),
    [['system', channel.id, projectId]],
    'the server recorded one removal proposal for the channel',
  );

  // The others go on, through both nodes.
  const rest = [adaLaptop, bobLaptop, adaPhone, bobPhone];
  const sentAfter: string[] = [];
  for (const d of [bobPhone, adaLaptop, adaPhone, bobLaptop]) {
    const text = `${d.name} via node ${d.node}, after Carol left`;
    await d.client.send(channel.id, text);
    sentAfter.push(text);
  }
  await haveAll(rest, [...sent, ...sentAfter], 'after the removal');

  // Carol's device was sent the removal (the server's proposal) and nothing after it.
  await carolLaptop.client.idle();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await carolLaptop.client.idle();
  const carolLater = carolLaptop.events.slice(carolMark);
  assert.deepEqual(
    carolLater.filter((e) => e.type === 'message'),
    [],
    'the removed device decrypted no message sent after its removal',
  );
  assert.deepEqual(carolLaptop.texts(channel.id), sent, 'Carol has exactly what came before');
  const lastSeen = Math.max(
    ...carolLaptop.events.map((e) =>
      e.type === 'message' && e.conversation === channel.id ? (e.seq ?? 0) : 0,
    ),
  );
  assert.ok(
    carolLater.some(
      (e) => e.type === 'processed' && e.conversation === channel.id && e.seq > lastSeen,
    ),
    'the removed device was delivered something after the last message: its removal',
  );
  // And it can no longer post to the conversation.
  await assert.rejects(carolLaptop.client.send(channel.id, 'still here?'));
  // The device should know it is out: the client marks a removal (a membership event with
  // selfRemoved, the conversation read-only, `chat tail` printing "this device was removed").
  const carolNow = await carolLaptop.client.membership(channel.id);
  assert.ok(
    carolLater.some((e) => e.type === 'membership' && e.selfRemoved) && !carolNow.joined,
    'the removed device knows it was removed (it receives the commit that removes it); ' +
      `joined=${carolNow.joined} at epoch ${carolNow.epoch}; its events after the removal: ` +
      JSON.stringify(
        carolLater.map((e) =>
          e.type === 'error'
            ? `error ${e.code}: ${e.message}`
            : e.type === 'processed'
              ? `processed ${e.seq}`
              : e.type,
        ),
      ),
  );
});

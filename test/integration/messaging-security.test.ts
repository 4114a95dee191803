import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryDeviceStore } from '@bulwark/chat';
import { deserializeGroupState, MlsGroupError, processIncoming } from '@bulwark/crypto';
import { httpsFetch } from '../../packages/cli/src/chat/https-fetch.ts';
import { buildWorld } from '../support/directory-world.ts';
import {
  allJoined,
  startDevice,
  stolenGroupState,
  storedLog,
  type TestDevice,
} from '../support/messaging.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const trustAll = { validateCredential: async () => true };

async function readyServer(t: Parameters<typeof startTestServer>[0]) {
  const server = await startTestServer(t, { dataDir: tempDir(t) });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'messaging security passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  return { server, world: await buildWorld(server) };
}

async function channelOf(devices: TestDevice[], projectId: string, name: string) {
  const [first] = devices;
  if (!first) throw new Error('no devices');
  const channel = await first.client.createChannel(projectId, name);
  await first.client.sync(channel.id);
  await allJoined(devices, channel.id);
  return channel.id;
}

/** Every application message of the log after `afterSeq`, tried with a stolen state: none may open. */
async function assertUnreadable(
  server: TestServer,
  conversation: string,
  stolen: Uint8Array,
  afterSeq: number,
): Promise<number> {
  const later = (await storedLog(server, conversation)).filter(
    (e) => e.seq > afterSeq && e.kind === 'application',
  );
  assert.ok(later.length > 0, 'there are later messages to try');
  for (const entry of later) {
    const state = deserializeGroupState(stolen, trustAll);
    await assert.rejects(
      processIncoming(state, entry.data),
      (err: unknown) => err instanceof MlsGroupError,
      `seq ${entry.seq} must not decrypt with the stolen state`,
    );
  }
  return later.length;
}

describe('messaging security properties', () => {
  it('a member removed from the project is removed from the group and reads nothing sent after', async (t) => {
    const { server, world } = await readyServer(t);
    const owner = await startDevice(t, server, world.people.orgOwner.id, 'owner');
    const member = await startDevice(t, server, world.people.internalMember.id, 'member');
    const externalStore = new MemoryDeviceStore();
    const external = await startDevice(t, server, world.people.externalMember.id, 'external', {
      store: externalStore,
    });
    const channel = await channelOf([owner, member, external], world.apollo, 'partners');
    await owner.client.send(channel, 'before the removal');
    await external.client.waitUntil(
      () => external.texts(channel).includes('before the removal'),
      20_000,
    );
    // The partner's laptop is stolen here: its keys are copied as they are now.
    const stolen = await stolenGroupState(externalStore, channel);
    const lastSeqBefore = (await storedLog(server, channel)).at(-1)?.seq ?? 0;

    const removed = await world.call(
      'orgOwner',
      `/v1/projects/${world.apollo}/members/${world.people.externalMember.id}`,
      { method: 'DELETE' },
    );
    assert.equal(removed.status, 204, removed.body);
    // The server proposes the removal; a remaining member commits it by itself.
    await owner.client.waitUntil(
      async () => {
        const view = await owner.client.conversation(channel);
        return (
          view.pendingRemovals.length === 0 &&
          !view.roster.some((r) => r.userId === world.people.externalMember.id)
        );
      },
      30_000,
      'the removal is committed',
    );
    const entries = await storedLog(server, channel);
    assert.ok(
      entries.some((e) => e.seq > lastSeqBefore && e.kind === 'proposal'),
      'the server proposed the removal as external sender',
    );

    await owner.client.send(channel, 'after the removal: secret plan');
    await member.client.waitUntil(
      () => member.texts(channel).includes('after the removal: secret plan'),
      20_000,
    );
    assert.ok(!external.texts(channel).includes('after the removal: secret plan'));
    // Not delivered, and not decryptable either, with the keys taken before the removal.
    await assertUnreadable(server, channel, stolen, lastSeqBefore);
    // The removed device can no longer post into the conversation.
    await assert.rejects(external.client.send(channel, 'still here?', 3_000));
  });

  it('after a compromised device updates its keys, the stolen keys read nothing new', async (t) => {
    const { server, world } = await readyServer(t);
    const victimStore = new MemoryDeviceStore();
    const victim = await startDevice(t, server, world.people.orgOwner.id, 'victim', {
      store: victimStore,
    });
    const other = await startDevice(t, server, world.people.internalMember.id, 'other');
    const channel = await channelOf([victim, other], world.apollo, 'pcs');
    await other.client.send(channel, 'read by the thief too');
    await victim.client.waitUntil(
      () => victim.texts(channel).includes('read by the thief too'),
      20_000,
    );
    const stolen = await stolenGroupState(victimStore, channel);
    const seqAtTheft = (await storedLog(server, channel)).at(-1)?.seq ?? 0;

    // The stolen state does read what is sent in the same epoch (that is what was lost) ...
    await other.client.send(channel, 'same epoch');
    const sameEpoch = (await storedLog(server, channel)).filter(
      (e) => e.seq > seqAtTheft && e.kind === 'application',
    );
    const opened = await processIncoming(
      deserializeGroupState(stolen, trustAll),
      sameEpoch[0]?.data as Uint8Array,
    );
    assert.equal(opened.event.type, 'application');

    // ... but not after the victim commits fresh keys (post-compromise security).
    const epochBefore = (await victim.client.conversation(channel)).epoch as number;
    const epochAfter = await victim.client.updateKeys(channel);
    assert.equal(epochAfter, epochBefore + 1);
    const seqAtHeal = (await storedLog(server, channel)).at(-1)?.seq ?? 0;
    await other.client.send(channel, 'after the heal');
    await victim.client.waitUntil(() => victim.texts(channel).includes('after the heal'), 20_000);
    await assertUnreadable(server, channel, stolen, seqAtHeal);
  });

  it('two members commit at once: one wins, the other rebases, nobody forks', async (t) => {
    const { server, world } = await readyServer(t);
    let conflicts = 0;
    const counting = (ca: string) => {
      const inner = httpsFetch(ca);
      return (async (...args: Parameters<typeof inner>) => {
        const answer = await inner(...args);
        if (answer.status !== 409) return answer;
        const bytes = await answer.arrayBuffer();
        if (Buffer.from(bytes).toString('utf8').includes('epoch_conflict')) conflicts += 1;
        return { status: answer.status, arrayBuffer: async () => bytes };
      }) as typeof inner;
    };
    const a = await startDevice(t, server, world.people.orgOwner.id, 'a', {
      fetchImpl: counting(server.ca),
    });
    const b = await startDevice(t, server, world.people.internalMember.id, 'b', {
      fetchImpl: counting(server.ca),
    });
    const c = await startDevice(t, server, world.people.externalMember.id, 'c');
    const channel = await channelOf([a, b, c], world.apollo, 'race');
    const start = (await a.client.conversation(channel)).epoch as number;
    for (let round = 0; round < 3; round++) {
      await Promise.all([a.client.updateKeys(channel), b.client.updateKeys(channel)]);
    }
    assert.ok(conflicts > 0, 'the commits really raced (some got epoch_conflict)');
    const commits = (await storedLog(server, channel)).filter(
      (e) => e.kind === 'commit' && e.epoch >= start,
    );
    assert.equal(commits.length, 6, 'every update landed once, each in its own epoch');
    assert.deepEqual(
      commits.map((e) => e.epoch),
      [0, 1, 2, 3, 4, 5].map((i) => start + i),
      'one commit per epoch',
    );
    // Nobody forked: everyone reads everyone in the final epoch.
    for (const [i, d] of [a, b, c].entries()) await d.client.send(channel, `final ${i}`);
    for (const d of [a, b, c]) {
      await d.client.waitUntil(
        () => ['final 0', 'final 1', 'final 2'].every((m) => d.texts(channel).includes(m)),
        20_000,
        `${d.name} reads all final messages`,
      );
      assert.equal((await d.client.membership(channel)).epoch, start + 6);
    }
  });

  it('ending a partner link removes the partner’s devices from the project’s groups at once', async (t) => {
    const { server, world } = await readyServer(t);
    const owner = await startDevice(t, server, world.people.orgOwner.id, 'owner');
    const partner = await startDevice(t, server, world.people.externalMember.id, 'partner');
    const channel = await channelOf([owner, partner], world.apollo, 'partnership');
    const ended = await world.call('orgOwner', `/v1/partner-links/${world.link}`, {
      method: 'DELETE',
    });
    assert.equal(ended.status, 200, ended.body);
    // Well inside the 30 s sweep: the link's end itself triggers the removal.
    await owner.client.waitUntil(
      async () =>
        !(await owner.client.conversation(channel)).roster.some(
          (r) => r.userId === world.people.externalMember.id,
        ),
      10_000,
      'the partner’s device leaves the group',
    );
    await partner.client.waitUntil(
      () => partner.events.some((e) => e.type === 'membership' && e.selfRemoved),
      10_000,
      'the partner’s device learns it was removed',
    );
  });
});

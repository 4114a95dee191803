import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeMlsMessage, encodeMlsMessage, proposeExternal } from 'ts-mls';
import {
  addMembers,
  asGroupId,
  type CiphersuiteName,
  ciphersuiteImpl,
  commitPending,
  createContent,
  createExternalRemoveProposal,
  createGroup,
  createServerIdentity,
  decodeContent,
  deserializeGroupState,
  encodeContent,
  encryptApplication,
  epoch,
  generateKeyPackages,
  groupId,
  type IncomingEvent,
  inspectGroupInfo,
  inspectMessage,
  inspectWelcome,
  isRemoved,
  joinFromWelcome,
  leavesForAdds,
  MlsGroupError,
  members,
  newGroupId,
  pendingRemovals,
  processIncoming,
  removeMembers,
  type ServerIdentity,
  self,
  serializeGroupState,
  supportedCiphersuites,
} from './index.ts';
import {
  Directory,
  leafOf,
  makeDevice,
  publish,
  stateOf,
  type TestDevice,
  uuid,
} from './test-fixtures.ts';

const [CLASSIC, XWING] = supportedCiphersuites;
const text = new TextEncoder();

/** Asserts an MlsGroupError with one of the given codes. */
async function rejects(
  promise: Promise<unknown>,
  ...codes: MlsGroupError['code'][]
): Promise<MlsGroupError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof MlsGroupError, `expected MlsGroupError, got ${String(err)}`);
    assert.ok(
      codes.includes(err.code),
      `expected ${codes.join('|')}, got ${err.code}: ${err.message}`,
    );
    return err;
  }
  assert.fail(`expected a rejection with ${codes.join('|')}`);
}

interface Group {
  readonly devices: TestDevice[];
  readonly server: ServerIdentity;
  readonly directory: Directory;
  /** The latest GroupInfo the "server" holds. */
  groupInfo: Uint8Array;
}

/** Creator makes the group and adds everyone else in one commit; everyone joins from the welcome. */
async function formGroup(
  suite: CiphersuiteName,
  users: number,
  devicesPerUser: number,
): Promise<Group> {
  const directory = new Directory();
  const server = await createServerIdentity();
  const devices: TestDevice[] = [];
  for (let u = 0; u < users; u++) {
    const userId = uuid();
    for (let d = 0; d < devicesPerUser; d++)
      devices.push(await makeDevice(directory, `u${u}d${d}`, userId));
  }
  const [creator, ...others] = devices as [TestDevice, ...TestDevice[]];
  const created = await createGroup({
    groupId: newGroupId(),
    suite,
    identity: creator.identity,
    self: creator,
    serverSignaturePublicKey: server.signaturePublicKey,
    authService: creator.auth,
  });
  assert.equal(inspectGroupInfo(created.groupInfo).epoch, 0n);
  creator.state = created.state;
  if (others.length === 0) return { devices, server, directory, groupInfo: created.groupInfo };
  const kps: Uint8Array[] = [];
  for (const d of others) kps.push(...(await publish(d, suite)));
  const res = await addMembers(creator.state, kps);
  assert.ok(res.welcome, 'a commit with adds has a welcome');
  creator.state = res.state;
  for (const d of others) d.state = await joinFromWelcome(res.welcome, d.store, d.auth);
  return { devices, server, directory, groupInfo: res.groupInfo };
}

/** Fans a handshake message out to every device except the sender; returns the events. */
async function deliver(
  group: Group,
  from: TestDevice,
  bytes: Uint8Array,
): Promise<Map<TestDevice, IncomingEvent>> {
  const events = new Map<TestDevice, IncomingEvent>();
  for (const d of group.devices) {
    if (d === from || d.state === undefined || isRemoved(d.state)) continue;
    const { state, event } = await processIncoming(d.state, bytes);
    d.state = state;
    events.set(d, event);
  }
  return events;
}

async function send(group: Group, from: TestDevice, body: string): Promise<Uint8Array> {
  const content = createContent({ kind: 'text', text: body });
  const { state, message } = await encryptApplication(stateOf(from), encodeContent(content));
  from.state = state;
  const events = await deliver(group, from, message);
  for (const [d, event] of events) {
    assert.equal(event.type, 'application', `${d.name} got ${event.type}`);
    if (event.type !== 'application') continue;
    assert.deepEqual(
      decodeContent(event.content),
      content,
      `${d.name} decrypts ${from.name}'s message`,
    );
    assert.equal(event.sender.deviceId, from.deviceId);
    assert.equal(event.sender.userId, from.userId);
    assert.equal(event.senderLeaf, leafOf(d, from));
  }
  return message;
}

async function basicScenario(suite: CiphersuiteName, users: number, devicesPerUser: number) {
  const group = await formGroup(suite, users, devicesPerUser);
  const { devices } = group;
  const creator = devices[0] as TestDevice;
  const n = users * devicesPerUser;

  // Everyone agrees on the epoch, the group id and the roster.
  const roster = members(stateOf(creator));
  assert.equal(roster.length, n);
  for (const d of devices) {
    assert.equal(epoch(stateOf(d)), 1n);
    assert.deepEqual(groupId(stateOf(d)), groupId(stateOf(creator)));
    assert.deepEqual(members(stateOf(d)), roster);
    assert.equal(self(stateOf(d)).deviceId, d.deviceId);
  }
  // The server could have predicted every leaf from the commit alone.
  assert.deepEqual(
    leavesForAdds([0], [], n - 1),
    devices.slice(1).map((d) => leafOf(creator, d)),
  );

  // Messages from one device of each user, processed in order everywhere.
  for (let u = 0; u < users; u++) {
    const from = devices[u * devicesPerUser] as TestDevice;
    for (let i = 0; i < 2; i++) await send(group, from, `hello ${i} from ${from.name}`);
  }
  return group;
}

describe('group scenarios (public API)', () => {
  test('3 users x 5 devices: create, add, join; every device decrypts every message in order', async () => {
    const group = await basicScenario(CLASSIC, 3, 5);
    // Ordinary key packages were consumed by the join; the last-resort ones stay.
    for (const d of group.devices.slice(1)) {
      assert.deepEqual(
        d.store.list().map((p) => p.lastResort),
        [true],
      );
    }
  });

  test('the X-Wing (post-quantum hybrid) suite runs the same scenario', async () => {
    const group = await basicScenario(XWING, 3, 5);
    assert.equal(inspectGroupInfo(group.groupInfo).ciphersuite, XWING);
  });

  test('what the server sees of the add: the commit, the welcome and the group info', async () => {
    const directory = new Directory();
    const server = await createServerIdentity();
    const [a, b, c] = [
      await makeDevice(directory, 'a'),
      await makeDevice(directory, 'b'),
      await makeDevice(directory, 'c'),
    ];
    const gid = asGroupId(text.encode('room-1'));
    const created = await createGroup({
      groupId: gid,
      suite: CLASSIC,
      identity: a.identity,
      self: a,
      serverSignaturePublicKey: server.signaturePublicKey,
      authService: a.auth,
    });
    const kpB = await generateKeyPackages(b.identity, b, CLASSIC, 1);
    const kpC = await generateKeyPackages(c.identity, c, CLASSIC, 1);
    const res = await addMembers(created.state, [
      kpB[0]?.public ?? new Uint8Array(),
      kpC[0]?.public ?? new Uint8Array(),
    ]);

    const commit = await inspectMessage(res.commit);
    assert.equal(commit.kind, 'commit');
    if (commit.kind !== 'commit') return;
    assert.deepEqual(commit.groupId, gid);
    assert.equal(commit.epoch, 0n);
    assert.equal(commit.senderLeaf, 0);
    assert.deepEqual(
      commit.adds.map((x) => [x.ref, x.credential.deviceId, x.signatureValid]),
      [
        [kpB[0]?.private.ref, b.deviceId, true],
        [kpC[0]?.private.ref, c.deviceId, true],
      ],
    );
    assert.deepEqual(
      commit.adds[0]?.keyPackage,
      kpB[0]?.public,
      'the DS can match the uploaded bytes',
    );
    assert.deepEqual(commit.adds[0]?.signaturePublicKey, b.identity.signaturePublicKey);
    assert.deepEqual(
      [commit.removes, commit.proposalRefs, commit.updates, commit.otherProposalTypes],
      [[], [], false, []],
    );

    assert.deepEqual(inspectWelcome(res.welcome ?? new Uint8Array()), {
      ciphersuite: CLASSIC,
      keyPackageRefs: [kpB[0]?.private.ref, kpC[0]?.private.ref],
    });

    const gi = inspectGroupInfo(res.groupInfo);
    assert.equal(gi.epoch, 1n);
    assert.equal(gi.signer, 0);
    assert.equal(gi.hasRatchetTree, false);
    assert.deepEqual(gi.externalSenders, [
      { signaturePublicKey: server.signaturePublicKey, isBulwarkServer: true },
    ]);
    assert.equal(await gi.verifySignature(a.identity.signaturePublicKey), true);
    assert.equal(await gi.verifySignature(b.identity.signaturePublicKey), false);
  });

  test('removal by the server: the removed device cannot decrypt anything after the commit', async () => {
    const group = await formGroup(CLASSIC, 2, 2);
    const [a1, a2, b1, b2] = group.devices as [TestDevice, TestDevice, TestDevice, TestDevice];
    const victimLeaf = leafOf(a1, b2);

    const proposal = await createExternalRemoveProposal({
      groupInfoBytes: group.groupInfo,
      leafIndex: victimLeaf,
      serverIdentity: group.server,
      suite: CLASSIC,
    });
    const seen = await inspectMessage(proposal.message);
    assert.deepEqual(seen.kind === 'proposal' && [seen.sender, seen.proposalType], [
      { type: 'external', senderIndex: 0 },
      'remove',
    ]);
    const server = {
      fanOut: (from: TestDevice | undefined, bytes: Uint8Array) =>
        deliver(group, from as TestDevice, bytes),
    };
    const proposalEvents = await server.fanOut(undefined, proposal.message);
    assert.equal(proposalEvents.size, 4);
    for (const event of proposalEvents.values()) {
      assert.deepEqual(event.type === 'proposal' && event.removed.deviceId, b2.deviceId);
    }
    assert.deepEqual(
      pendingRemovals(stateOf(a1)).map((m) => m.deviceId),
      [b2.deviceId],
    );
    // RFC 9420 §12.1: nobody sends application data over a pending removal.
    await rejects(encryptApplication(stateOf(a1), text.encode('x')), 'pending_proposals');

    const b2BeforeCommit = stateOf(b2);
    const res = await commitPending(stateOf(a1));
    const commit = await inspectMessage(res.commit);
    assert.ok(commit.kind === 'commit');
    assert.deepEqual(
      commit.proposalRefs,
      [proposal.ref],
      'commits the server proposal by reference',
    );
    assert.equal(commit.hasPath, true);
    a1.state = res.state;
    group.groupInfo = res.groupInfo;

    const events = await deliver(group, a1, res.commit);
    const b2Event = events.get(b2);
    assert.ok(b2Event?.type === 'commit' && b2Event.selfRemoved);
    for (const d of [a2, b1]) {
      const e = events.get(d);
      assert.ok(e?.type === 'commit' && !e.selfRemoved);
      assert.deepEqual(
        e.removed.map((m) => m.deviceId),
        [b2.deviceId],
      );
    }
    assert.equal(isRemoved(stateOf(b2)), true);
    assert.equal(members(stateOf(a1)).length, 3);

    const secret = await send(group, a1, 'after the removal');
    // Neither the removed state nor the one from just before the commit opens it.
    await rejects(processIncoming(stateOf(b2), secret), 'removed');
    await rejects(processIncoming(b2BeforeCommit, secret), 'future_epoch');
    await rejects(
      processIncoming(deserializeGroupState(serializeGroupState(b2BeforeCommit), b2.auth), secret),
      'future_epoch',
    );
    await rejects(encryptApplication(stateOf(b2), text.encode('still here?')), 'removed');
  });

  test('a member can remove a device by value in its own commit', async () => {
    const group = await formGroup(CLASSIC, 1, 3);
    const [a, b, c] = group.devices as [TestDevice, TestDevice, TestDevice];
    const res = await removeMembers(stateOf(a), [leafOf(a, c)]);
    const commit = await inspectMessage(res.commit);
    assert.deepEqual(commit.kind === 'commit' && commit.removes, [leafOf(a, c)]);
    a.state = res.state;
    await deliver(group, a, res.commit);
    assert.equal(isRemoved(stateOf(c)), true);
    await send(group, b, 'two left');
    await rejects(removeMembers(stateOf(a), [leafOf(a, a)]), 'invalid_commit');
  });

  test('post-compromise security: a stolen state cannot follow the victim past its update commit', async () => {
    const group = await formGroup(CLASSIC, 3, 1);
    const [alice, victim, carol] = group.devices as [TestDevice, TestDevice, TestDevice];
    const stolenBytes = serializeGroupState(stateOf(victim)); // the "stolen key material"
    let stolen = deserializeGroupState(stolenBytes, victim.auth);

    // The copy is real: it reads the current epoch like the victim does.
    const before = await send(group, alice, 'before healing');
    const read = await processIncoming(stolen, before);
    assert.ok(read.event.type === 'application');
    stolen = read.state;

    const heal = await commitPending(stateOf(victim));
    const inspected = await inspectMessage(heal.commit);
    assert.ok(
      inspected.kind === 'commit' && inspected.hasPath,
      'a heal commit carries a fresh UpdatePath',
    );
    victim.state = heal.state;
    await deliver(group, victim, heal.commit);
    assert.equal(epoch(stateOf(carol)), 2n);

    const after = await send(group, alice, 'after healing');
    await rejects(processIncoming(stolen, heal.commit), 'invalid_commit');
    await rejects(processIncoming(stolen, after), 'future_epoch');
  });

  test('concurrent commits: the loser fails after the winner, and the loser can rebase', async () => {
    const group = await formGroup(CLASSIC, 3, 1);
    const [alice, bob, carol] = group.devices as [TestDevice, TestDevice, TestDevice];
    const bobBefore = stateOf(bob);
    const aliceBefore = stateOf(alice);

    const winner = await commitPending(stateOf(alice));
    const loser = await commitPending(bobBefore);
    const [w, l] = [await inspectMessage(winner.commit), await inspectMessage(loser.commit)];
    assert.equal(
      w.kind === 'commit' && l.kind === 'commit' && w.epoch === l.epoch,
      true,
      'both claim epoch 1',
    );

    // The DS accepts the first; everyone applies it.
    alice.state = winner.state;
    carol.state = (await processIncoming(stateOf(carol), winner.commit)).state;
    // The loser's commit is now for a past epoch: applying both would fork the group.
    await rejects(processIncoming(stateOf(carol), loser.commit), 'stale_epoch');

    // Bob rebases from the state he kept, then commits again.
    bob.state = (await processIncoming(bobBefore, winner.commit)).state;
    assert.equal(epoch(stateOf(bob)), 2n);
    const retry = await commitPending(stateOf(bob));
    bob.state = retry.state;
    await deliver(group, bob, retry.commit);
    for (const d of group.devices) assert.equal(epoch(stateOf(d)), 3n);
    await send(group, carol, 'still one group');

    // Alice has moved on from the state she committed from, so its epoch
    // secrets are wiped: it can no longer even check the losing commit.
    await rejects(processIncoming(aliceBefore, loser.commit), 'invalid_commit');
  });

  test('tampered ciphertext throws, and the untouched message still decrypts', async () => {
    const group = await formGroup(CLASSIC, 2, 1);
    const [alice, bob] = group.devices as [TestDevice, TestDevice];
    const { message } = await encryptApplication(stateOf(alice), text.encode('integrity'));
    // Flip one bit at many positions after the framing header.
    for (let i = 20; i < message.length; i += 7) {
      const tampered = message.slice();
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      await rejects(
        processIncoming(stateOf(bob), tampered),
        'decrypt_failed',
        'malformed',
        'wrong_group',
        'future_epoch',
        'stale_epoch',
        'replayed',
      );
    }
    const ok = await processIncoming(stateOf(bob), message);
    assert.deepEqual(ok.event.type === 'application' && ok.event.content, text.encode('integrity'));
  });

  test('a replayed application message throws the second time', async () => {
    const group = await formGroup(CLASSIC, 2, 1);
    const [alice, bob] = group.devices as [TestDevice, TestDevice];
    const message = await send(group, alice, 'once');
    await rejects(processIncoming(stateOf(bob), message), 'replayed');
    // Out-of-order delivery within the retention window still works.
    const m1 = await encryptApplication(stateOf(alice), text.encode('1'));
    const m2 = await encryptApplication(m1.state, text.encode('2'));
    alice.state = m2.state;
    const r2 = await processIncoming(stateOf(bob), m2.message);
    const r1 = await processIncoming(r2.state, m1.message);
    assert.deepEqual(r1.event.type === 'application' && r1.event.content, text.encode('1'));
    await rejects(processIncoming(r1.state, m2.message), 'replayed');
  });

  test('a credential from an unknown device is rejected by members', async () => {
    const group = await formGroup(CLASSIC, 2, 1);
    const [alice, bob] = group.devices as [TestDevice, TestDevice];
    // Mallory's key was never registered (the server invented a device).
    const mallory = await makeDevice(group.directory, 'mallory', uuid(), { register: false });
    const [kp] = await publish(mallory, CLASSIC);
    const refused = await rejects(
      addMembers(stateOf(alice), [kp ?? new Uint8Array()]),
      'unknown_device',
    );
    assert.match(refused.message, new RegExp(mallory.deviceId));

    // A real device id with a substituted key is just as unknown.
    const impostor = await makeDevice(group.directory, 'impostor', bob.userId, { register: false });
    const [kp2] = await generateKeyPackages(impostor.identity, bob, CLASSIC, 1);
    await rejects(addMembers(stateOf(alice), [kp2?.public ?? new Uint8Array()]), 'unknown_device');

    // An inviter who trusts Mallory cannot make Bob accept her.
    const gullible = await addMembers(
      deserializeGroupState(serializeGroupState(stateOf(alice)), {
        validateCredential: async () => true,
      }),
      [kp ?? new Uint8Array()],
    );
    await rejects(processIncoming(stateOf(bob), gullible.commit), 'unknown_device');
    // …and a joiner whose directory does not list her refuses the whole group.
    const carol = await makeDevice(group.directory, 'carol');
    const [kpCarol] = await publish(carol, CLASSIC);
    const withCarol = await addMembers(gullible.state, [kpCarol ?? new Uint8Array()]);
    await rejects(
      joinFromWelcome(withCarol.welcome ?? new Uint8Array(), carol.store, carol.auth),
      'unknown_device',
    );
  });

  test('state survives serialization, and welcomes only open with a matching key package', async () => {
    const group = await formGroup(CLASSIC, 2, 1);
    const [alice, bob] = group.devices as [TestDevice, TestDevice];
    bob.state = deserializeGroupState(serializeGroupState(stateOf(bob)), bob.auth);
    await send(group, alice, 'to the restored state');
    await send(group, bob, 'from the restored state');
    await rejects(
      Promise.resolve().then(() => deserializeGroupState(new Uint8Array([1, 2, 3]), bob.auth)),
      'invalid_state',
    );

    const dave = await makeDevice(group.directory, 'dave');
    const [kp] = await publish(dave, CLASSIC);
    const res = await addMembers(stateOf(alice), [kp ?? new Uint8Array()]);
    const stranger = await makeDevice(group.directory, 'stranger');
    await publish(stranger, CLASSIC);
    await rejects(
      joinFromWelcome(res.welcome ?? new Uint8Array(), stranger.store, stranger.auth),
      'no_matching_key_package',
    );
    dave.state = await joinFromWelcome(res.welcome ?? new Uint8Array(), dave.store, dave.auth);
    // The ordinary package is gone, so the same welcome cannot be used twice.
    await rejects(
      joinFromWelcome(res.welcome ?? new Uint8Array(), dave.store, dave.auth),
      'no_matching_key_package',
    );
  });

  test('joining with the last-resort package keeps it for the next add', async () => {
    const group = await formGroup(CLASSIC, 1, 1);
    const [alice] = group.devices as [TestDevice];
    const erin = await makeDevice(group.directory, 'erin');
    await publish(erin, CLASSIC, 1);
    const lastResort = erin.store.list().find((p) => p.lastResort);
    assert.ok(lastResort);
    const res = await addMembers(stateOf(alice), [lastResort.publicKeyPackage]);
    erin.state = await joinFromWelcome(res.welcome ?? new Uint8Array(), erin.store, erin.auth);
    assert.equal(erin.store.list().length, 2, 'nothing consumed');
  });

  test('messages for other groups or of forbidden kinds are refused', async () => {
    const g1 = await formGroup(CLASSIC, 2, 1);
    const g2 = await formGroup(CLASSIC, 2, 1);
    const [a1] = g1.devices as [TestDevice];
    const [a2, b2] = g2.devices as [TestDevice, TestDevice];
    const { message } = await encryptApplication(stateOf(a1), text.encode('wrong room'));
    await rejects(processIncoming(stateOf(b2), message), 'wrong_group');
    await rejects(processIncoming(stateOf(b2), g2.groupInfo), 'forbidden');
    await rejects(processIncoming(stateOf(b2), new Uint8Array([0, 1, 2])), 'malformed');
    // A proposal from the wrong epoch (made before the last commit) is stale.
    const p = await createExternalRemoveProposal({
      groupInfoBytes: g2.groupInfo,
      leafIndex: 1,
      serverIdentity: g2.server,
    });
    const heal = await commitPending(stateOf(a2));
    a2.state = heal.state;
    await deliver(g2, a2, heal.commit);
    await rejects(processIncoming(stateOf(b2), p.message), 'stale_epoch');
    // Another server's key is not the group's external sender.
    const rogue = await createServerIdentity();
    await assert.rejects(
      createExternalRemoveProposal({
        groupInfoBytes: heal.groupInfo,
        leafIndex: 1,
        serverIdentity: rogue,
      }),
      { name: 'MlsWireError' },
    );
    // Even the real server may only propose removals (ts-mls would store an
    // external Add, and the next commitPending would apply it).
    const decoded = decodeMlsMessage(heal.groupInfo, 0)?.[0];
    assert.ok(decoded?.wireformat === 'mls_group_info');
    const [kp] = await publish(await makeDevice(g2.directory, 'eve'), CLASSIC);
    const kpDecoded = decodeMlsMessage(kp ?? new Uint8Array(), 0)?.[0];
    assert.ok(kpDecoded?.wireformat === 'mls_key_package');
    const externalAdd = await proposeExternal(
      decoded.groupInfo,
      { proposalType: 'add', add: { keyPackage: kpDecoded.keyPackage } },
      g2.server.signaturePublicKey,
      g2.server.signKey,
      await ciphersuiteImpl(CLASSIC),
    );
    await rejects(processIncoming(stateOf(b2), encodeMlsMessage(externalAdd)), 'forbidden');
  });

  test('an expired key package cannot be added', async () => {
    const group = await formGroup(CLASSIC, 1, 1);
    const [alice] = group.devices as [TestDevice];
    const old = await makeDevice(group.directory, 'old');
    const [kp] = await generateKeyPackages(old.identity, old, CLASSIC, 1, {
      now: new Date('2020-01-01T00:00:00Z'),
    });
    await rejects(
      addMembers(stateOf(alice), [kp?.public ?? new Uint8Array()]),
      'invalid_key_package',
    );
  });
});

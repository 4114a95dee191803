import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import { encodeMlsMessage, type MLSMessage } from 'ts-mls';
import {
  addMembers,
  commitPending,
  createExternalRemoveProposal,
  createGroup,
  createServerIdentity,
  encryptApplication,
  generateKeyPackages,
  inspectGroupInfo,
  inspectKeyPackage,
  inspectMessage,
  inspectWelcome,
  joinFromWelcome,
  leavesForAdds,
  MlsGroupError,
  MlsWireError,
  members,
  newGroupId,
  processIncoming,
  type ServerIdentity,
  supportedCiphersuites,
  verifyHandshakeSignature,
} from './index.ts';
import { Directory, makeDevice, publish, type TestDevice } from './test-fixtures.ts';

const [CLASSIC] = supportedCiphersuites;

interface Samples {
  server: ServerIdentity;
  alice: TestDevice;
  bob: TestDevice;
  keyPackage: Uint8Array;
  commit: Uint8Array;
  welcome: Uint8Array;
  groupInfoBefore: Uint8Array;
  groupInfo: Uint8Array;
  application: Uint8Array;
  proposal: Uint8Array;
  heal: Uint8Array;
}

let s: Samples;

before(async () => {
  const directory = new Directory();
  const server = await createServerIdentity();
  const alice = await makeDevice(directory, 'alice');
  const bob = await makeDevice(directory, 'bob');
  const created = await createGroup({
    groupId: newGroupId(),
    suite: CLASSIC,
    identity: alice.identity,
    self: alice,
    serverSignaturePublicKey: server.signaturePublicKey,
    authService: alice.auth,
  });
  const [keyPackage] = await publish(bob, CLASSIC);
  assert.ok(keyPackage);
  const added = await addMembers(created.state, [keyPackage]);
  assert.ok(added.welcome);
  bob.state = await joinFromWelcome(added.welcome, bob.store, bob.auth);
  alice.state = added.state;
  const app = await encryptApplication(alice.state, new TextEncoder().encode('hello'));
  alice.state = app.state;
  const heal = await commitPending(alice.state);
  const proposal = await createExternalRemoveProposal({
    groupInfoBytes: added.groupInfo,
    leafIndex: 1,
    serverIdentity: server,
  });
  s = {
    server,
    alice,
    bob,
    keyPackage,
    commit: added.commit,
    welcome: added.welcome,
    groupInfoBefore: created.groupInfo,
    groupInfo: added.groupInfo,
    application: app.message,
    proposal: proposal.message,
    heal: heal.commit,
  };
});

/** Runs an inspector; passes if it returns or throws MlsWireError, fails on any other exception. */
async function wireSafe(f: () => unknown): Promise<void> {
  try {
    await f();
  } catch (err) {
    if (!(err instanceof MlsWireError)) {
      assert.fail(
        `expected MlsWireError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
      );
    }
  }
}

async function mustThrowWire(
  f: () => unknown,
  reason?: MlsWireError['reason'],
): Promise<MlsWireError> {
  try {
    await f();
  } catch (err) {
    assert.ok(err instanceof MlsWireError, `expected MlsWireError, got ${String(err)}`);
    if (reason !== undefined) assert.equal(err.reason, reason, err.message);
    return err;
  }
  assert.fail('expected an MlsWireError');
}

const inspectors: Record<string, (bytes: Uint8Array) => unknown> = {
  inspectMessage: (b) => inspectMessage(b),
  inspectGroupInfo: (b) => inspectGroupInfo(b),
  inspectWelcome: (b) => inspectWelcome(b),
  inspectKeyPackage: (b) => inspectKeyPackage(b),
  'inspectGroupInfo().verifySignature': async (b) =>
    inspectGroupInfo(b).verifySignature(new Uint8Array(32)),
  verifyHandshakeSignature: (b) =>
    verifyHandshakeSignature({
      message: b,
      groupInfo: s.groupInfo,
      signaturePublicKey: new Uint8Array(32),
    }),
  'verifyHandshakeSignature(groupInfo)': (b) =>
    verifyHandshakeSignature({
      message: s.heal,
      groupInfo: b,
      signaturePublicKey: new Uint8Array(32),
    }),
  createExternalRemoveProposal: (b) =>
    createExternalRemoveProposal({ groupInfoBytes: b, leafIndex: 1, serverIdentity: s.server }),
};

const samples = (): Record<string, Uint8Array> => ({
  keyPackage: s.keyPackage,
  commit: s.commit,
  welcome: s.welcome,
  groupInfo: s.groupInfo,
  application: s.application,
  proposal: s.proposal,
});

describe('wire inspection never throws anything but MlsWireError', () => {
  test('random bytes, to every inspector', async () => {
    for (const [name, inspect] of Object.entries(inspectors)) {
      await fc
        .assert(
          fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
            await wireSafe(() => inspect(bytes));
          }),
          { numRuns: 300 },
        )
        .catch((err: unknown) => {
          throw new Error(`${name}: ${String(err)}`);
        });
    }
  });

  test('random bytes behind a valid MLS header, to every inspector', async () => {
    // 00 01 = mls10; then a wire format (1..5) so the decoders go deeper.
    const headed = fc
      .tuple(fc.integer({ min: 1, max: 5 }), fc.uint8Array({ maxLength: 400 }))
      .map(([w, rest]) => new Uint8Array([0, 1, 0, w, ...rest]));
    for (const [name, inspect] of Object.entries(inspectors)) {
      await fc
        .assert(
          fc.asyncProperty(headed, async (bytes) => {
            await wireSafe(() => inspect(bytes));
          }),
          { numRuns: 300 },
        )
        .catch((err: unknown) => {
          throw new Error(`${name}: ${String(err)}`);
        });
    }
  });

  test('every truncation of every valid message is refused', async () => {
    for (const [what, bytes] of Object.entries(samples())) {
      for (let n = 0; n < bytes.length; n++) {
        for (const inspect of [
          inspectMessage,
          inspectGroupInfo,
          inspectWelcome,
          inspectKeyPackage,
        ]) {
          await mustThrowWire(() => inspect(bytes.subarray(0, n))).catch((e) => {
            throw new Error(`${what} truncated to ${n}/${bytes.length} via ${inspect.name}: ${e}`);
          });
        }
      }
      await mustThrowWire(() => inspectMessage(new Uint8Array([...bytes, 0])), 'malformed');
      assert.ok(what);
    }
  });

  test('random mutations of valid messages: a result or an MlsWireError', async () => {
    const mutated = fc
      .tuple(
        fc.constantFrom(...Object.values(samples())),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
      )
      .map(([bytes, flips]) => {
        const out = bytes.slice();
        for (const [i, x] of flips) out[i % out.length] = (out[i % out.length] ?? 0) ^ x;
        return out;
      });
    for (const inspect of Object.values(inspectors)) {
      await fc.assert(
        fc.asyncProperty(mutated, async (bytes) => {
          await wireSafe(() => inspect(bytes));
        }),
        { numRuns: 150 },
      );
    }
  });
});

describe('inspectMessage', () => {
  test('application, commit and proposal', async () => {
    const app = await inspectMessage(s.application);
    assert.deepEqual([app.kind, app.epoch], ['application', 1n]);
    const heal = await inspectMessage(s.heal);
    assert.ok(heal.kind === 'commit');
    assert.deepEqual(
      [heal.epoch, heal.senderLeaf, heal.adds, heal.removes, heal.proposalRefs, heal.hasPath],
      [1n, 0, [], [], [], true],
    );
    const prop = await inspectMessage(s.proposal);
    assert.deepEqual(prop, {
      kind: 'proposal',
      groupId: app.groupId,
      epoch: 1n,
      sender: { type: 'external', senderIndex: 0 },
      proposalType: 'remove',
    });
  });

  test('refuses other wire formats where a group message is expected', async () => {
    for (const bytes of [s.welcome, s.groupInfo, s.keyPackage]) {
      const err = await mustThrowWire(() => inspectMessage(bytes), 'refused');
      assert.match(err.message, /expected a commit, proposal or application message, got a/);
    }
    await mustThrowWire(() => inspectWelcome(s.commit), 'refused');
    await mustThrowWire(() => inspectGroupInfo(s.welcome), 'refused');
  });

  // Built with ts-mls' encoder directly: our engine never produces these.
  const forged = (m: MLSMessage) => encodeMlsMessage(m);
  const random = (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n));

  test('refuses handshake messages hidden in PrivateMessages', async () => {
    for (const contentType of ['commit', 'proposal'] as const) {
      const bytes = forged({
        version: 'mls10',
        wireformat: 'mls_private_message',
        privateMessage: {
          groupId: random(16),
          epoch: 3n,
          contentType,
          authenticatedData: new Uint8Array(),
          encryptedSenderData: random(28),
          ciphertext: random(100),
        },
      });
      const err = await mustThrowWire(() => inspectMessage(bytes), 'refused');
      assert.match(err.message, /must be PublicMessages/);
      // …and so does a member.
      await assert.rejects(
        processIncoming(s.bob.state as never, bytes),
        (e: unknown) => e instanceof MlsGroupError,
      );
    }
  });

  test('reports member proposals so the server can say why it refuses them; members refuse them too', async () => {
    const bytes = forged({
      version: 'mls10',
      wireformat: 'mls_public_message',
      publicMessage: {
        content: {
          groupId: (await inspectMessage(s.application)).groupId,
          epoch: 1n,
          sender: { senderType: 'member', leafIndex: 1 },
          authenticatedData: new Uint8Array(),
          contentType: 'proposal',
          proposal: { proposalType: 'remove', remove: { removed: 0 } },
        },
        auth: { contentType: 'proposal', signature: random(64) },
        senderType: 'member',
        membershipTag: random(32),
      },
    });
    const p = await inspectMessage(bytes);
    assert.deepEqual(p.kind === 'proposal' && [p.sender, p.proposalType], [
      { type: 'member', leaf: 1 },
      'remove',
    ]);
    await assert.rejects(processIncoming(s.bob.state as never, bytes), { code: 'forbidden' });
  });

  test('refuses external joins', async () => {
    const bytes = forged({
      version: 'mls10',
      wireformat: 'mls_public_message',
      publicMessage: {
        content: {
          groupId: random(16),
          epoch: 1n,
          sender: { senderType: 'new_member_commit' },
          authenticatedData: new Uint8Array(),
          contentType: 'commit',
          commit: { proposals: [], path: undefined },
        },
        auth: { contentType: 'commit', signature: random(64), confirmationTag: random(32) },
        senderType: 'new_member_commit',
      },
    });
    const err = await mustThrowWire(() => inspectMessage(bytes), 'refused');
    assert.match(err.message, /external join/);
  });
});

describe('server helpers', () => {
  test('inspectKeyPackage reads what the device published', async () => {
    const info = await inspectKeyPackage(s.keyPackage);
    assert.equal(info.credential.deviceId, s.bob.deviceId);
    assert.deepEqual(info.signaturePublicKey, s.bob.identity.signaturePublicKey);
    assert.equal(info.signatureValid, true);
  });

  test('verifyHandshakeSignature checks the committer against the epoch it committed in', async () => {
    const args = { message: s.heal, groupInfo: s.groupInfo };
    assert.equal(
      await verifyHandshakeSignature({
        ...args,
        signaturePublicKey: s.alice.identity.signaturePublicKey,
      }),
      true,
    );
    assert.equal(
      await verifyHandshakeSignature({
        ...args,
        signaturePublicKey: s.bob.identity.signaturePublicKey,
      }),
      false,
    );
    // The add commit was made in epoch 0; the epoch-1 group info does not describe it.
    await mustThrowWire(
      () =>
        verifyHandshakeSignature({
          message: s.commit,
          groupInfo: s.groupInfo,
          signaturePublicKey: s.alice.identity.signaturePublicKey,
        }),
      'refused',
    );
    assert.equal(
      await verifyHandshakeSignature({
        message: s.commit,
        groupInfo: s.groupInfoBefore,
        signaturePublicKey: s.alice.identity.signaturePublicKey,
      }),
      true,
    );
  });

  test('leavesForAdds: removes first, then the leftmost blank leaves', () => {
    assert.deepEqual(leavesForAdds([0, 1, 2], [1], 2), [1, 3]);
    assert.deepEqual(leavesForAdds([0, 2, 5], [], 3), [1, 3, 4]);
    assert.deepEqual(leavesForAdds([], [], 1), [0]);
  });

  test('leavesForAdds matches a real commit that removes and adds at once', async () => {
    const directory = new Directory();
    const server = await createServerIdentity();
    const devices = [];
    for (let i = 0; i < 4; i++) devices.push(await makeDevice(directory, `d${i}`));
    const [a, ...rest] = devices as [TestDevice, ...TestDevice[]];
    const created = await createGroup({
      groupId: newGroupId(),
      suite: CLASSIC,
      identity: a.identity,
      self: a,
      serverSignaturePublicKey: server.signaturePublicKey,
      authService: a.auth,
    });
    const kps = [];
    for (const d of rest)
      kps.push(...(await generateKeyPackages(d.identity, d, CLASSIC, 1)).map((k) => k.public));
    const added = await addMembers(created.state, kps);
    const proposal = await createExternalRemoveProposal({
      groupInfoBytes: added.groupInfo,
      leafIndex: 1,
      serverIdentity: server,
    });
    const withProposal = await processIncoming(added.state, proposal.message);
    const newcomers = [await makeDevice(directory, 'n1'), await makeDevice(directory, 'n2')];
    const newKps = [];
    for (const d of newcomers)
      newKps.push(...(await generateKeyPackages(d.identity, d, CLASSIC, 1)).map((k) => k.public));
    const res = await addMembers(withProposal.state, newKps);
    const commit = await inspectMessage(res.commit);
    assert.ok(commit.kind === 'commit');
    assert.deepEqual(commit.proposalRefs, [proposal.ref]);
    const predicted = leavesForAdds([0, 1, 2, 3], [1], commit.adds.length);
    const actual = members(res.state)
      .filter((m) => newcomers.some((n) => n.deviceId === m.deviceId))
      .map((m) => m.leaf);
    assert.deepEqual(actual, predicted);
    assert.deepEqual(predicted, [1, 4]);
  });
});

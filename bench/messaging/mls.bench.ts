/**
 * MLS commit and join times for groups of 10, 100 and 1,000 devices (the
 * messaging issue's figures), in both of Bulwark's ciphersuites, with
 * @bulwark/crypto directly: the clients' work, with no server in between.
 *
 *   node bench/messaging/mls.bench.ts [sizes=10,100,1000] [suites=classic,xwing]
 *
 * Environment: BENCH_RUNS  runs per size below 1,000 (default 3; the
 * median is reported); groups of 1,000 and more run once.
 *
 * Per run: N−1 devices each generate a key package; the creator creates
 * the group and adds all of them in one commit (with its Welcome); one
 * member joins from the Welcome; that member commits an update (an empty
 * commit with a fresh UpdatePath, what `bulwark chat update-keys` and
 * every removal do) and the creator processes it; then the creator adds
 * one more device to the full group, the member processes that commit
 * and the newcomer joins. Also timed: what the Delivery Service does with
 * the big commit (`inspectMessage`, which checks every added key package),
 * and one application message encrypted and decrypted in the full group.
 * One JSON line per group size and suite.
 */

import { performance } from 'node:perf_hooks';
import {
  type AuthService,
  addMembers,
  asDeviceId,
  asUserId,
  type CiphersuiteName,
  commitPending,
  createContent,
  createDeviceIdentity,
  createGroup,
  createMemoryKeyPackageStore,
  createServerIdentity,
  type DeviceIdentity,
  type DeviceRef,
  encodeContent,
  encryptApplication,
  type GeneratedKeyPackage,
  generateKeyPackages,
  inspectMessage,
  joinFromWelcome,
  newGroupId,
  processIncoming,
  supportedCiphersuites,
} from '@bulwark/crypto';
import { messagingLimits } from '@bulwark/protocol';
import { emit, machine, median, round } from './stats.ts';

const sizes = (process.argv[2] ?? '10,100,1000').split(',').map(Number);
const suiteNames: Record<string, CiphersuiteName> = {
  classic: supportedCiphersuites[0],
  xwing: supportedCiphersuites[1],
};
const suites = (process.argv[3] ?? 'classic,xwing').split(',').map((s) => {
  const suite = suiteNames[s];
  if (!suite) throw new Error(`unknown suite ${s}: classic or xwing`);
  return suite;
});
const runsBelow1000 = Number(process.env.BENCH_RUNS ?? 3);

/** Every key is trusted: the directory lookups are the client's, not MLS's cost. */
const trustAll: AuthService = {
  validateCredential: async () => true,
  validateExternalSender: async () => true,
};

interface Device extends DeviceRef {
  identity: DeviceIdentity;
}

async function newDevice(): Promise<Device> {
  return {
    identity: await createDeviceIdentity(),
    userId: asUserId(crypto.randomUUID()),
    deviceId: asDeviceId(crypto.randomUUID()),
  };
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const out = await f();
  return [out, performance.now() - t0];
}

async function keyPackageOf(d: Device, suite: CiphersuiteName): Promise<GeneratedKeyPackage> {
  const [kp] = await generateKeyPackages(d.identity, d, suite, 1);
  if (!kp) throw new Error('no key package');
  return kp;
}

async function once(suite: CiphersuiteName, n: number) {
  const server = await createServerIdentity();
  const creator = await newDevice();
  const members: Device[] = [];
  for (let i = 1; i < n; i++) members.push(await newDevice());
  const [kps, keyPackagesMs] = await timed(() =>
    Promise.all(members.map((m) => keyPackageOf(m, suite))),
  );

  const [created, createMs] = await timed(() =>
    createGroup({
      groupId: newGroupId(),
      suite,
      identity: creator.identity,
      self: creator,
      serverSignaturePublicKey: server.signaturePublicKey,
      authService: trustAll,
    }),
  );
  const [added, addMs] = await timed(() =>
    addMembers(
      created.state,
      kps.map((k) => k.public),
    ),
  );
  if (!added.welcome) throw new Error('no welcome');
  const welcome = added.welcome;
  const [, inspectMs] = await timed(() => inspectMessage(added.commit));

  // The last member joins (the farthest leaf; every joiner does the same work).
  const joinerKp = kps.at(-1) as GeneratedKeyPackage;
  const [joined, joinMs] = await timed(() =>
    joinFromWelcome(welcome, createMemoryKeyPackageStore([joinerKp.private]), trustAll),
  );

  const [update, updateMs] = await timed(() => commitPending(joined));
  const [afterUpdate, processUpdateMs] = await timed(() =>
    processIncoming(added.state, update.commit),
  );

  const newcomer = await newDevice();
  const newcomerKp = await keyPackageOf(newcomer, suite);
  const [addOne, addOneMs] = await timed(() => addMembers(afterUpdate.state, [newcomerKp.public]));
  if (!addOne.welcome) throw new Error('no welcome');
  const addOneWelcome = addOne.welcome;
  const [memberAfterAdd, processAddOneMs] = await timed(() =>
    processIncoming(update.state, addOne.commit),
  );
  const [, joinOneMs] = await timed(() =>
    joinFromWelcome(addOneWelcome, createMemoryKeyPackageStore([newcomerKp.private]), trustAll),
  );

  const content = encodeContent(createContent({ kind: 'text', text: 'hello, everyone' }));
  const [sent, encryptMs] = await timed(() => encryptApplication(addOne.state, content));
  const [, decryptMs] = await timed(() => processIncoming(memberAfterAdd.state, sent.message));

  return {
    ms: {
      keyPackageEach: keyPackagesMs / Math.max(1, n - 1),
      createGroup: createMs,
      addAllInOneCommit: addMs,
      dsInspectCommit: inspectMs,
      joinFromWelcome: joinMs,
      updateCommit: updateMs,
      processUpdate: processUpdateMs,
      addOneMore: addOneMs,
      processAddOne: processAddOneMs,
      joinAsOneMore: joinOneMs,
      encryptMessage: encryptMs,
      decryptMessage: decryptMs,
    },
    bytes: {
      keyPackage: joinerKp.public.length,
      addCommit: added.commit.length,
      welcome: welcome.length,
      groupInfo: added.groupInfo.length,
      updateCommit: update.commit.length,
      addOneCommit: addOne.commit.length,
      addOneWelcome: addOneWelcome.length,
      message: sent.message.length,
    },
  };
}

emit({ machine: machine(), sizes, suites, runsBelow1000 });
for (const suite of suites) {
  for (const n of sizes) {
    const runs = n >= 1000 ? 1 : runsBelow1000;
    const results: Awaited<ReturnType<typeof once>>[] = [];
    const t0 = performance.now();
    for (let r = 0; r < runs; r++) results.push(await once(suite, n));
    const first = results[0];
    if (!first) continue;
    const ms = Object.fromEntries(
      Object.keys(first.ms).map((k) => [
        k,
        round(median(results.map((x) => x.ms[k as keyof typeof first.ms])), 2),
      ]),
    );
    emit({
      suite,
      groupSize: n,
      runs,
      medianMs: ms,
      bytes: first.bytes,
      // What the server accepts (packages/protocol messagingLimits): base64url on the wire.
      withinLimits: {
        commit: first.bytes.addCommit <= messagingLimits.commitBytes,
        welcome: first.bytes.welcome <= messagingLimits.welcomeBytes,
        groupInfo: first.bytes.groupInfo <= messagingLimits.groupInfoBytes,
      },
      heapUsedMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
      seconds: round((performance.now() - t0) / 1000),
    });
  }
}

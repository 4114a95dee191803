/**
 * `bulwark chat` as people run it: the real CLI (packages/cli/bin/bulwark.js)
 * in child processes against the real server, over TLS trusting only the
 * installation's CA. Two people, each with their own state directory (their
 * device), log in with a bearer session, make a channel, send, follow it
 * with `chat tail`, list conversations and devices, and compare safety
 * numbers.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { cliEntry } from '../support/bulwark-process.ts';
import { createProject, homeOrg } from '../support/installation-api.ts';
import { sessionFor } from '../support/messaging.ts';
import {
  cleanEnv,
  describeOutput,
  type Finished,
  type RunningProcess,
  run,
  start,
} from '../support/process.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const uuid = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** Every file and directory under `dir`, with its permission bits. */
function modes(dir: string): { path: string; dir: boolean; mode: number }[] {
  const found: { path: string; dir: boolean; mode: number }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    found.push({ path, dir: entry.isDirectory(), mode: statSync(path).mode & 0o777 });
    if (entry.isDirectory()) found.push(...modes(path));
  }
  return found;
}

it('two people chat with the bulwark CLI: login, channel, send, tail, devices, safety number', {
  timeout: 90_000,
}, async (t) => {
  const desk = tempDir(t);
  const server = await startTestServer(t, { dataDir: tempDir(t) });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'cli chat e2e passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  const identity = server.handle.identity();
  const alice = await identity.users.create({
    displayName: 'Alice',
    username: 'alice',
    orgRole: 'owner',
  });
  const bob = await identity.users.create({ displayName: 'Bob', username: 'bob' });
  const node = { url: server.handle.url, ca: server.ca };
  const aliceToken = await sessionFor(server, alice.id);
  const projectId = await createProject(
    node,
    aliceToken,
    await homeOrg(node, aliceToken),
    { key: 'APOLLO', name: 'Apollo' },
    [bob.id],
  );
  const caFile = join(server.dataDir, 'tls', 'ca.crt');

  // Each person's terminal: their own state directory (created by the CLI).
  const people = {
    alice: { id: alice.id, stateDir: join(desk, 'alice-chat'), token: aliceToken },
    bob: { id: bob.id, stateDir: join(desk, 'bob-chat'), token: await sessionFor(server, bob.id) },
  };
  type Who = keyof typeof people;
  const argv = (who: Who, args: readonly string[]) => [
    cliEntry,
    'chat',
    '--state-dir',
    people[who].stateDir,
    ...args,
  ];
  const chat = async (who: Who, ...args: string[]): Promise<Finished> => {
    const result = await run(process.execPath, argv(who, args), { cwd: desk, env: cleanEnv() });
    assert.equal(
      result.code,
      0,
      `${who}: bulwark chat ${args.join(' ')}: expected exit 0\n${describeOutput(result)}`,
    );
    return result;
  };
  const tails: RunningProcess[] = [];
  t.after(async () => {
    for (const tail of tails) await tail.stop('SIGKILL');
  });
  /** `chat tail`, followed until it says it is following. */
  const tail = async (who: Who, conversation: string): Promise<RunningProcess> => {
    const proc = start(process.execPath, argv(who, ['tail', conversation]), {
      cwd: desk,
      env: cleanEnv(),
    });
    tails.push(proc);
    await proc.waitFor('stderr', /\(following; Ctrl-C to stop\)/, `${who}'s tail to follow`);
    return proc;
  };
  /** Ctrl-C: a clean exit. */
  const interrupt = async (who: Who, proc: RunningProcess): Promise<Finished> => {
    const ended = await proc.stop('SIGINT');
    assert.equal(ended.code, 0, `${who}'s tail after Ctrl-C\n${describeOutput(ended)}`);
    return ended;
  };

  // Login with a bearer token and the installation's CA: the device is registered.
  const fingerprints = new Map<Who, { deviceId: string; fingerprint: string }>();
  for (const who of ['alice', 'bob'] as const) {
    const login = await chat(
      who,
      'login',
      '--server',
      server.handle.url,
      '--ca',
      caFile,
      '--token',
      people[who].token,
      '--device-name',
      `${who} laptop`,
    );
    const shown = new RegExp(
      `^device (${uuid}) \\(${who} laptop\\), active\\nfingerprint ((?:[0-9a-f]{4} )*[0-9a-f]{1,4})\\n$`,
    ).exec(login.stdout);
    assert.ok(shown?.[1] && shown[2], login.stdout);
    fingerprints.set(who, { deviceId: shown[1], fingerprint: shown[2] });
    assert.match(login.stderr, /^logged in to https:\/\/127\.0\.0\.1:\d+ as (Alice|Bob)$/m);
    assert.match(login.stderr, /^registered this device$/m);
  }
  const aliceDevice = fingerprints.get('alice');
  const bobDevice = fingerprints.get('bob');
  assert.ok(aliceDevice && bobDevice);
  const short = (id: string) => id.slice(0, 8);

  // Alice makes a channel: her device establishes the group and adds Bob's.
  const created = await chat(
    'alice',
    'channel',
    'create',
    '--project',
    projectId,
    'launch',
    '--json',
  );
  const conversation = (
    JSON.parse(created.stdout) as {
      conversation: { id: string; epoch: number | null; roster: { deviceId: string }[] };
    }
  ).conversation;
  assert.equal(conversation.epoch, 1, created.stdout);
  assert.deepEqual(
    conversation.roster.map((r) => r.deviceId).sort(),
    [aliceDevice.deviceId, bobDevice.deviceId].sort(),
  );
  const conv = conversation.id;

  // Bob follows it (joining from the Welcome); Alice sends.
  const bobTail = await tail('bob', conv);
  await bobTail.waitFor('stdout', /^! joined the conversation \(epoch 1\)$/m, 'bob joins');
  const sent = await chat('alice', 'send', conv, 'hello', 'bob');
  const sentId = new RegExp(`^sent \\(position \\d+\\): (${uuid})\\n$`).exec(sent.stderr)?.[1];
  assert.ok(sentId, sent.stderr);
  await bobTail.waitFor(
    'stdout',
    new RegExp(`^\\d\\d:\\d\\d ${short(alice.id)}: hello bob  \\[${short(sentId)}\\]$`, 'm'),
    'alice’s message on bob’s tail',
  );
  await interrupt('bob', bobTail);

  // Alice follows; her own message is in her history; Bob answers twice.
  const aliceTail = await tail('alice', conv);
  assert.match(aliceTail.output().stdout, /^\d\d:\d\d you: hello bob {2}\[[0-9a-f]{8}\]$/m);
  for (const text of ['hi alice', 'all systems go']) {
    const answer = await chat('bob', 'send', conv, text);
    assert.match(answer.stderr, /^sent \(position \d+\): /);
  }
  await aliceTail.waitFor(
    'stdout',
    new RegExp(
      `^\\d\\d:\\d\\d ${short(bob.id)}: hi alice {2}\\[[0-9a-f]{8}\\]\\n` +
        `\\d\\d:\\d\\d ${short(bob.id)}: all systems go {2}\\[[0-9a-f]{8}\\]$`,
      'm',
    ),
    'bob’s messages on alice’s tail, in order',
  );
  await interrupt('alice', aliceTail);

  // Bob's stored history: the three messages in order.
  const history = await tail('bob', conv);
  await history.waitFor('stdout', /all systems go/, 'bob’s history');
  const lines = history
    .output()
    .stdout.split('\n')
    .filter((l) => /: (hello bob|hi alice|all systems go) /.test(l));
  assert.deepEqual(
    lines.map((l) => l.replace(/^\d\d:\d\d /, '').replace(/ {2}\[[0-9a-f]{8}\]$/, '')),
    [`${short(alice.id)}: hello bob`, 'you: hi alice', 'you: all systems go'],
    history.output().stdout,
  );
  await interrupt('bob', history);

  // Both list the channel.
  for (const who of ['alice', 'bob'] as const) {
    const list = await chat(who, 'conversations');
    assert.match(
      list.stdout,
      new RegExp(
        `^${conv} {2}#launch {2}\\(project ${short(projectId)}, 2 device\\(s\\), epoch 1\\)$`,
        'm',
      ),
      `${who}: ${list.stdout}`,
    );
  }

  // Devices and fingerprints: one's own, and the other's as the server lists it.
  const own = await chat('alice', 'devices');
  assert.match(
    own.stdout,
    new RegExp(
      `^${aliceDevice.deviceId} {2}alice laptop \\(this device\\)\\n {2}status active, created .+\\n {2}fingerprint ${aliceDevice.fingerprint}$`,
      'm',
    ),
    own.stdout,
  );
  const theirs = await chat('alice', 'devices', bob.id);
  assert.match(
    theirs.stdout,
    new RegExp(
      `^${bobDevice.deviceId} {2}bob laptop\\n {2}status active, created .+\\n {2}fingerprint ${bobDevice.fingerprint}$`,
      'm',
    ),
    theirs.stdout,
  );

  // Safety numbers: 12 groups of 5 digits, the same on both sides.
  const aliceSees = await chat('alice', 'safety-number', bob.id);
  const bobSees = await chat('bob', 'safety-number', alice.id);
  assert.match(aliceSees.stdout, /^\d{5}( \d{5}){11}\n$/, aliceSees.stdout);
  assert.equal(bobSees.stdout, aliceSees.stdout, 'both people see the same safety number');

  // The state directories hold the session token and the device's keys: owner-only.
  for (const who of ['alice', 'bob'] as const) {
    const { stateDir } = people[who];
    const deviceDir = join(
      stateDir,
      'devices',
      new URL(server.handle.url).host.replace(':', '_'),
      people[who].id,
    );
    const entries = modes(stateDir);
    for (const key of [
      join(stateDir, 'config.json'),
      join(deviceDir, 'device.json'),
      join(deviceDir, 'key-packages.json'),
      join(deviceDir, 'conversations', `${conv}.json`),
    ]) {
      assert.ok(
        entries.some((e) => e.path === key),
        `${who}: ${key} exists (${entries.map((e) => e.path).join(', ')})`,
      );
    }
    for (const entry of entries) {
      assert.equal(
        entry.mode,
        entry.dir ? 0o700 : 0o600,
        `${who}: ${entry.path} is mode ${entry.mode.toString(8)}`,
      );
    }
  }
});

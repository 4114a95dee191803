/**
 * `bulwark chat` as a child process, over real TLS and a real WebSocket,
 * against the in-process fake Delivery Service; the other person is a
 * MessagingClient in this process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createCryptoEngine, MemoryDeviceStore, MessagingClient } from '@bulwark/chat';
import { FakeDeliveryService } from '@bulwark/chat/testing';
import { type Bridge, serveOverHttps } from '../chat/test-support/https-bridge.ts';
import { runBulwark } from '../test-support/run-cli.ts';

const bin = fileURLToPath(new URL('../../bin/bulwark.js', import.meta.url));

describe('bulwark chat', { timeout: 120_000 }, () => {
  let ds: FakeDeliveryService;
  let bridge: Bridge;
  let bob: MessagingClient;
  let stateDir: string;
  let conversationId = '';
  const project = randomUUID();
  const aliceId = randomUUID();
  const bobId = randomUUID();
  const chat = (...args: string[]) =>
    runBulwark([
      '--server',
      bridge.url,
      '--ca',
      bridge.caFile,
      'chat',
      '--state-dir',
      stateDir,
      ...args,
    ]);

  before(async () => {
    ds = await new FakeDeliveryService().start();
    bridge = await serveOverHttps(ds);
    stateDir = join(bridge.dir, 'alice-chat');
    const aliceToken = ds.addUser(aliceId, [project]);
    writeFileSync(join(bridge.dir, 'alice.token'), `${aliceToken}\n`, { mode: 0o600 });
    bob = new MessagingClient({
      baseUrl: ds.baseUrl,
      token: ds.addUser(bobId, [project]),
      store: new MemoryDeviceStore(),
      engine: createCryptoEngine(),
      fetchImpl: ds.fetch,
      wsFactory: ds.wsFactory,
    });
    await bob.ensureDevice('bob phone');
    await bob.connect();
  });

  after(async () => {
    await bob?.close();
    await bridge?.close();
    await rm(bridge.dir, { recursive: true, force: true });
  });

  it('logs in with a token file and registers this device, keeping secrets 0600', async () => {
    const run = await chat('login', '--token-file', join(bridge.dir, 'alice.token'));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^device [0-9a-f-]{36} \(bulwark-cli on .+\), active\nfingerprint /);
    assert.match(run.stderr, /registered this device/);
    assert.equal(statSync(join(stateDir, 'config.json')).mode & 0o777, 0o600);
    const config = JSON.parse(readFileSync(join(stateDir, 'config.json'), 'utf8'));
    assert.equal(config.userId, aliceId);
    const device = join(stateDir, 'devices', new URL(bridge.url).host.replace(':', '_'), aliceId);
    assert.equal(statSync(join(device, 'device.json')).mode & 0o777, 0o600);
    assert.equal(statSync(join(device, 'key-packages.json')).mode & 0o777, 0o600);

    const again = await chat('login', '--token-file', join(bridge.dir, 'alice.token'));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /bound this session to the stored device/);
  });

  it('creates a channel that adds the other members', async () => {
    const run = await chat('channel', 'create', '--project', project, 'general', '--json');
    assert.equal(run.code, 0, run.stderr);
    conversationId = (JSON.parse(run.stdout) as { conversation: { id: string } }).conversation.id;
    await bob.waitUntil(async () => (await bob.membership(conversationId)).joined, 20_000);
    const list = await chat('conversations');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${conversationId}  #general  \\(project`));
  });

  it('sends a message and exits once the server has it', async () => {
    const run = await chat('send', conversationId, 'hello', 'bob');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^sent \(position \d+\): [0-9a-f-]{36}\n$/);
    await bob.waitUntil(
      async () =>
        (await bob.timeline(conversationId)).fold.messages.some((m) => m.text === 'hello bob'),
      20_000,
    );
  });

  it('tails the conversation: history first, then live messages, until Ctrl-C', async () => {
    await bob.send(conversationId, 'hi alice');
    const child = spawn(
      process.execPath,
      [
        bin,
        '--server',
        bridge.url,
        '--ca',
        bridge.caFile,
        'chat',
        '--state-dir',
        stateDir,
        'tail',
        conversationId,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const until = async (pattern: RegExp) => {
      const deadline = Date.now() + 20_000;
      while (!pattern.test(stdout)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} in:\n${stdout}\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    try {
      await until(/you: hello bob/);
      await until(/\d\d:\d\d [0-9a-f]{8}: hi alice/);
      const deadline = Date.now() + 20_000;
      while (!/following/.test(stderr)) {
        if (Date.now() > deadline) throw new Error(stderr);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await bob.send(conversationId, 'live from bob');
      await until(/[0-9a-f]{8}: live from bob/);

      // The device is in use: a second process must not fork its encryption state.
      const second = await chat('send', conversationId, 'from a second process');
      assert.equal(second.code, 1);
      assert.match(second.stderr, /another bulwark chat process \(pid \d+\) is using the device/);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, stderr);
  });

  it('explains a missing login', async () => {
    const other = await runBulwark([
      'chat',
      '--state-dir',
      join(bridge.dir, 'nobody'),
      'conversations',
    ]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /not logged in .*bulwark chat login/);
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  checkStoreId,
  type DeviceStore,
  emptyConversation,
  emptyTimeline,
  MemoryDeviceStore,
  type StoredDevice,
} from '@bulwark/chat';
import { FileDeviceStore, StoreLockedError, writeFileAtomic } from './device-store.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-chat-store-'));
  dirs.push(dir);
  return dir;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const device: StoredDevice = {
  server: 'https://bulwark.test',
  deviceId: '2f1d0c55-6a47-4ad4-9d4b-5a8f1c1a9e01',
  userId: '7b1e3f0a-8c44-4f57-9f0e-3d8e6b1c2a10',
  name: 'laptop',
  identity: '{"v":1}',
  signaturePublicKey: 'AAAA',
  ciphersuite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
  createdAt: '2025-01-01T00:00:00.000Z',
};

async function roundTrip(store: DeviceStore): Promise<void> {
  assert.equal(await store.loadDevice(), null);
  assert.deepEqual(await store.loadKeyPackages(), []);
  assert.deepEqual(await store.listConversations(), []);
  assert.deepEqual(await store.loadKnownKeys(), {});

  await store.saveDevice(device);
  assert.deepEqual(await store.loadDevice(), device);

  const kp = {
    ref: 'ab',
    publicKey: 'cd',
    privateKey: '{}',
    lastResort: false,
    createdAt: device.createdAt,
  };
  await store.saveKeyPackages([kp]);
  assert.deepEqual(await store.loadKeyPackages(), [kp]);

  const id = '0c7c3b4e-1d2a-4f3b-8c9d-0e1f2a3b4c5d';
  const record = { ...emptyConversation(id), processedSeq: 7, epoch: 3, groupState: 'AQ' };
  await store.saveConversation(record);
  assert.deepEqual(await store.loadConversation(id), record);
  assert.deepEqual(await store.listConversations(), [id]);

  const timeline = emptyTimeline();
  timeline.notices.push({
    kind: 'undecryptable',
    seq: 4,
    at: device.createdAt,
    text: 'x',
    userId: null,
    deviceId: null,
  });
  await store.saveTimeline(id, timeline);
  assert.deepEqual(await store.loadTimeline(id), timeline);

  const keys = { [device.userId]: { [device.deviceId]: { key: 'k', firstSeen: 'now' } } };
  await store.saveKnownKeys(keys);
  assert.deepEqual(await store.loadKnownKeys(), keys);
}

describe('MemoryDeviceStore', () => {
  it('round-trips everything', () => roundTrip(new MemoryDeviceStore()));

  it('hands out copies, so callers cannot change what is stored', async () => {
    const store = new MemoryDeviceStore();
    const record = emptyConversation('c1');
    await store.saveConversation(record);
    record.processedSeq = 99;
    const loaded = await store.loadConversation('c1');
    assert.equal(loaded?.processedSeq, 0);
    if (loaded) loaded.processedSeq = 5;
    assert.equal((await store.loadConversation('c1'))?.processedSeq, 0);
  });
});

describe('FileDeviceStore', () => {
  it('round-trips everything', () => roundTrip(new FileDeviceStore(join(tempDir(), 'device'))));

  it('writes every file 0600 in 0700 directories, and leaves no temporary files', async () => {
    const dir = join(tempDir(), 'device');
    const store = new FileDeviceStore(dir);
    await store.saveDevice(device);
    await store.saveConversation(emptyConversation('c1'));
    await store.saveTimeline('c1', emptyTimeline());
    await store.saveKeyPackages([]);
    for (const path of [
      join(dir, 'device.json'),
      join(dir, 'key-packages.json'),
      join(dir, 'conversations', 'c1.json'),
      join(dir, 'timelines', 'c1.json'),
    ]) {
      assert.equal(statSync(path).mode & 0o777, 0o600, path);
    }
    for (const sub of [dir, join(dir, 'conversations'), join(dir, 'timelines')]) {
      assert.equal(statSync(sub).mode & 0o777, 0o700, sub);
    }
    const all = [
      ...readdirSync(dir),
      ...readdirSync(join(dir, 'conversations')),
      ...readdirSync(join(dir, 'timelines')),
    ];
    assert.ok(!all.some((name) => name.endsWith('.tmp')), all.join(', '));
  });

  it('replaces a file whole: readers see the old content or the new, never a mix', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.json');
    await writeFileAtomic(path, { n: 1, pad: 'x'.repeat(100_000) });
    const writes = Array.from({ length: 20 }, (_, i) =>
      writeFileAtomic(path, { n: i + 2, pad: 'y'.repeat(100_000) }),
    );
    // Every read while the writes race must parse.
    const reads = (async () => {
      for (let i = 0; i < 50; i++) {
        JSON.parse(await readFile(path, 'utf8'));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all([...writes, reads]);
    assert.ok((JSON.parse(readFileSync(path, 'utf8')) as { n: number }).n >= 2);
    assert.deepEqual(readdirSync(dir), ['state.json']);
  });

  it('refuses ids that would escape its directory', async () => {
    const store = new FileDeviceStore(tempDir());
    for (const bad of ['../x', 'a/b', '', '.hidden', 'x'.repeat(65)]) {
      assert.throws(() => checkStoreId(bad));
      await assert.rejects(store.loadConversation(bad));
    }
    assert.equal(checkStoreId('0c7c3b4e-1d2a-4f3b-8c9d-0e1f2a3b4c5d').length, 36);
  });

  it('lets one process at a time use the device, and takes over a dead one’s lock', async () => {
    const dir = tempDir();
    const store = new FileDeviceStore(dir);
    const unlock = await store.lock();
    await assert.rejects(new FileDeviceStore(dir).lock(), StoreLockedError);
    await unlock();
    const again = await new FileDeviceStore(dir).lock();
    await again();

    // A pid that has exited: its lock is stale.
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
    writeFileSync(join(dir, 'lock'), String(dead));
    const taken = await store.lock();
    assert.equal(readFileSync(join(dir, 'lock'), 'utf8'), String(process.pid));
    await taken();
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BulwarkError } from '../errors.ts';
import { type Keyring, KeyringStore } from './keyring-store.ts';

let dir: string;
let path: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bulwark-keyring-'));
  path = join(dir, 'keyring.json');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function sampleKeyring(overrides: Partial<Keyring> = {}): Keyring {
  return {
    format: 'bulwark-keyring',
    version: 1,
    installationId: 'bwk_0123456789abcdefghij',
    createdAt: '2025-01-02T03:04:05.678Z',
    operatorTokenSha256: 'ab'.repeat(32),
    wrappings: [
      {
        provider: 'passphrase',
        wrappedRootKey: Buffer.alloc(60, 1).toString('base64'),
        kdf: {
          algorithm: 'argon2id',
          salt: Buffer.alloc(16, 2).toString('base64'),
          memory: 65536,
          passes: 3,
          parallelism: 4,
        },
      },
      {
        provider: 'shamir',
        wrappedRootKey: Buffer.alloc(60, 3).toString('base64'),
        threshold: 3,
        total: 5,
      },
    ],
    ...overrides,
  };
}

function corruptNamingFile(err: unknown): boolean {
  return (
    err instanceof BulwarkError && err.code === 'storage_corrupt' && err.message.includes(path)
  );
}

describe('KeyringStore', () => {
  it('reads null when there is no keyring', () => {
    const store = new KeyringStore(path);
    assert.equal(store.exists(), false);
    assert.equal(store.read(), null);
  });

  it('writes a keyring that reads back equal, with mode 0600 and no temp file left', () => {
    const store = new KeyringStore(path);
    const keyring = sampleKeyring();
    store.create(keyring);
    assert.equal(store.exists(), true);
    assert.deepEqual(store.read(), keyring);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir), ['keyring.json']);
  });

  it('refuses a second create with already_initialized and keeps the first content', () => {
    const store = new KeyringStore(path);
    store.create(sampleKeyring());
    const before = readFileSync(path);
    assert.throws(
      () => store.create(sampleKeyring({ installationId: 'bwk_zzzzzzzzzzzzzzzzzzzz' })),
      (err) => err instanceof BulwarkError && err.code === 'already_initialized',
    );
    assert.deepEqual(readFileSync(path), before);
    assert.equal(new KeyringStore(path).read()?.installationId, 'bwk_0123456789abcdefghij');
    assert.deepEqual(readdirSync(dir), ['keyring.json']);
  });

  it('refuses to create over any existing file, even an invalid one', () => {
    writeFileSync(path, 'not mine');
    assert.throws(
      () => new KeyringStore(path).create(sampleKeyring()),
      (err) => err instanceof BulwarkError && err.code === 'already_initialized',
    );
    assert.equal(readFileSync(path, 'utf8'), 'not mine');
  });

  it('reads invalid JSON as storage_corrupt naming the file', () => {
    for (const text of ['', '{', 'null garbage', '\u0000\u0001']) {
      writeFileSync(path, text);
      assert.throws(() => new KeyringStore(path).read(), corruptNamingFile, JSON.stringify(text));
    }
  });

  it('reads a truncated keyring as storage_corrupt naming the file', () => {
    const store = new KeyringStore(path);
    store.create(sampleKeyring());
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, text.slice(0, Math.floor(text.length / 2)));
    assert.throws(() => store.read(), corruptNamingFile);
  });

  it('reads a schema-violating keyring as storage_corrupt naming the file', () => {
    const broken: unknown[] = [
      null,
      [],
      { ...sampleKeyring(), format: 'something-else' },
      { ...sampleKeyring(), version: 2 },
      { ...sampleKeyring(), installationId: 'bwk_SHORT' },
      { ...sampleKeyring(), operatorTokenSha256: 'not-hex' },
      { ...sampleKeyring(), createdAt: 'yesterday' },
      { ...sampleKeyring(), wrappings: [] },
      { ...sampleKeyring(), extra: true },
      { ...sampleKeyring(), wrappings: [{ provider: 'tpm', wrappedRootKey: 'AAAA' }] },
      {
        ...sampleKeyring(),
        wrappings: [{ provider: 'shamir', wrappedRootKey: 'not base64!', threshold: 3, total: 5 }],
      },
      {
        ...sampleKeyring(),
        wrappings: [{ provider: 'shamir', wrappedRootKey: 'AAAA', threshold: 1, total: 5 }],
      },
      {
        ...sampleKeyring(),
        wrappings: [
          {
            provider: 'passphrase',
            wrappedRootKey: 'AAAA',
            kdf: { algorithm: 'argon2id', salt: 'AAAA', memory: 8, passes: 1, parallelism: 1 },
          },
        ],
      },
    ];
    for (const value of broken) {
      writeFileSync(path, JSON.stringify(value));
      assert.throws(() => new KeyringStore(path).read(), corruptNamingFile, JSON.stringify(value));
    }
  });

  it('passes other read errors through (a directory where the file should be)', () => {
    const store = new KeyringStore(dir);
    assert.throws(
      () => store.read(),
      (err) => !(err instanceof BulwarkError) && (err as NodeJS.ErrnoException).code === 'EISDIR',
    );
  });
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { InitRequest } from '@bulwark/protocol';
import { BulwarkError } from '../errors.ts';
import { FailureBackoff } from './backoff.ts';
import { type Keyring, KeyringStore } from './keyring-store.ts';
import type { Argon2idParams } from './providers/passphrase.ts';
import { decodeShare, encodeShare } from './providers/shamir.ts';
import type { RootKey } from './root-key.ts';
import { type SealedResources, SealService, type SealServiceOptions } from './service.ts';

const fast: Argon2idParams = { memory: 8192, passes: 1, parallelism: 1 };
const PASSPHRASE = 'a long enough test passphrase';
const both: InitRequest = { passphrase: PASSPHRASE, shares: { count: 5, threshold: 3 } };

function isCode(code: string) {
  return (err: unknown) => err instanceof BulwarkError && err.code === code;
}

/** A stand-in for storage: records every call and the roots it was given. */
class RecordingResources implements SealedResources {
  calls: string[] = [];
  roots: RootKey[] = [];
  /** Fingerprint of each root seen (a derived key, so the root bytes are not copied). */
  fingerprints: string[] = [];
  failInitialize: Error | null = null;
  failOpen: Error | null = null;

  #see(root: RootKey): void {
    this.roots.push(root);
    this.fingerprints.push(root.derive('storageCheck').bytes().toString('hex'));
  }

  async initialize(root: RootKey): Promise<void> {
    this.calls.push('initialize');
    this.#see(root);
    if (this.failInitialize) throw this.failInitialize;
  }

  async abortInitialize(): Promise<void> {
    this.calls.push('abortInitialize');
  }

  async open(root: RootKey): Promise<void> {
    this.calls.push('open');
    this.#see(root);
    // Let a concurrent caller run, if the service would allow it.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failOpen) throw this.failOpen;
  }

  async close(): Promise<void> {
    this.calls.push('close');
  }

  count(call: string): number {
    return this.calls.filter((c) => c === call).length;
  }
}

/** A keyring store whose first `failures` writes fail as a full disk would. */
class FailingKeyringStore extends KeyringStore {
  failures = 1;

  override create(keyring: Keyring): void {
    if (this.failures > 0) {
      this.failures -= 1;
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    }
    super.create(keyring);
  }
}

let dir: string;
let keyringPath: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bulwark-seal-'));
  keyringPath = join(dir, 'keyring.json');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function makeService(opts: Partial<SealServiceOptions> = {}) {
  const resources = new RecordingResources();
  const tokens: string[] = [];
  const service = new SealService({
    keyring: new KeyringStore(keyringPath),
    resources,
    storage: 'sqlite',
    version: '0.0.0-test',
    writeOperatorToken: (token) => {
      tokens.push(token);
      return join(dir, 'operator-token');
    },
    argon2id: fast,
    ...opts,
  });
  return { service, resources, tokens };
}

/** Initialises with passphrase and 5/3 shares, then seals; returns the shares. */
async function initializedAndSealed(opts: Partial<SealServiceOptions> = {}) {
  const made = makeService(opts);
  const result = await made.service.initialize(both);
  await made.service.seal();
  made.resources.calls = [];
  return { ...made, result, shares: result.shares };
}

function share(shares: string[], i: number): string {
  const s = shares[i];
  assert.ok(s !== undefined, `share ${i}`);
  return s;
}

/** A share in valid format with a valid checksum for this installation, but random bytes. */
function forgedShare(installationId: string, avoidX: number[]): string {
  const bytes = new Uint8Array(randomBytes(33));
  let x = 1;
  while (avoidX.includes(x)) x += 1;
  bytes[32] = x;
  return encodeShare(installationId, bytes);
}

describe('SealService state machine', () => {
  it('goes uninitialized → unsealed (init) → sealed → unsealed', async () => {
    const { service, resources } = makeService();
    assert.equal(service.state, 'uninitialized');
    assert.deepEqual(
      { ...service.status(), installationId: null },
      {
        state: 'uninitialized',
        initialized: false,
        sealed: true,
        installationId: null,
        providers: [],
        shares: null,
        storage: 'sqlite',
        version: '0.0.0-test',
      },
    );
    assert.throws(() => service.rootKey, isCode('sealed'));

    const result = await service.initialize(both);
    assert.equal(service.state, 'unsealed');
    assert.match(result.installationId, /^bwk_[0-9a-f]{20}$/);
    assert.equal(result.shares.length, 5);
    assert.equal(result.threshold, 3);
    assert.equal(result.operatorTokenFile, join(dir, 'operator-token'));
    assert.equal(service.rootKey.installationId, result.installationId);
    assert.deepEqual(
      service.status().shares,
      { given: 0, threshold: 3, total: 5 },
      'no share progress while unsealed, but the threshold is known',
    );
    assert.deepEqual(service.status().providers, ['passphrase', 'shamir']);
    assert.deepEqual(resources.calls, ['initialize']);

    const sealed = await service.seal();
    assert.equal(sealed.state, 'sealed');
    assert.equal(sealed.sealed, true);
    assert.deepEqual(sealed.shares, { given: 0, threshold: 3, total: 5 });

    const unsealed = await service.unseal({ passphrase: PASSPHRASE }, 'operator');
    assert.equal(unsealed.state, 'unsealed');
    assert.equal(unsealed.sealed, false);
    assert.deepEqual(resources.calls, ['initialize', 'close', 'open']);
    assert.deepEqual(
      resources.fingerprints[1],
      resources.fingerprints[0],
      'the same root came back',
    );
  });

  it('refuses unseal and seal before init with not_initialized', async () => {
    const { service } = makeService();
    await assert.rejects(
      service.unseal({ passphrase: PASSPHRASE }, 'x'),
      isCode('not_initialized'),
    );
    await assert.rejects(service.seal(), isCode('not_initialized'));
    assert.equal(service.isOperatorToken('anything'), false);
  });

  it('writes a keyring that holds neither the passphrase, the root key nor the operator token', async () => {
    const { service, tokens } = makeService();
    await service.initialize(both);
    const text = readFileSync(keyringPath, 'utf8');
    const root = service.rootKey.exposeForWrapping();
    for (const secret of [
      PASSPHRASE,
      root.toString('hex'),
      root.toString('base64'),
      root.toString('base64url'),
      tokens[0] ?? 'missing token',
    ]) {
      assert.ok(!text.includes(secret), `keyring leaks ${secret.slice(0, 6)}…`);
    }
  });
});

describe('SealService.initialize', () => {
  it('refuses a second init with already_initialized and leaves the keyring unchanged', async () => {
    const { service, resources } = makeService();
    await service.initialize(both);
    const before = readFileSync(keyringPath);
    await assert.rejects(
      service.initialize({ passphrase: 'another passphrase!' }),
      isCode('already_initialized'),
    );
    assert.deepEqual(readFileSync(keyringPath), before);
    assert.equal(resources.count('initialize'), 1, 'storage was not touched again');
    assert.equal(service.state, 'unsealed');

    // Nor does another service on the same directory.
    const other = makeService();
    await assert.rejects(other.service.initialize(both), isCode('already_initialized'));
    assert.deepEqual(readFileSync(keyringPath), before);
    assert.deepEqual(other.resources.calls, []);
  });

  it('serialises two concurrent inits: one wins, the other gets already_initialized', async () => {
    const { service, resources } = makeService();
    const results = await Promise.allSettled([
      service.initialize(both),
      service.initialize({ passphrase: 'the other passphrase' }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const rejected = results.find((r) => r.status === 'rejected');
    assert.ok(rejected && isCode('already_initialized')(rejected.reason));
    assert.equal(resources.count('initialize'), 1);
  });

  it('writes no keyring and stays uninitialized when storage initialisation fails', async () => {
    const { service, resources } = makeService();
    resources.failInitialize = new BulwarkError('storage_mismatch');
    await assert.rejects(service.initialize(both), isCode('storage_mismatch'));
    assert.equal(existsSync(keyringPath), false);
    assert.equal(service.state, 'uninitialized');
    assert.equal(resources.roots[0]?.wiped, true, 'the fresh root was wiped');
    assert.throws(() => service.rootKey, isCode('sealed'));

    resources.failInitialize = null;
    await service.initialize(both);
    assert.equal(service.state, 'unsealed', 'init can be retried');
  });

  it('undoes storage with abortInitialize when the keyring cannot be written', async () => {
    const keyring = new FailingKeyringStore(keyringPath);
    const { service, resources, tokens } = makeService({ keyring });
    await assert.rejects(service.initialize(both), /ENOSPC/);
    assert.deepEqual(resources.calls, ['initialize', 'abortInitialize']);
    assert.equal(existsSync(keyringPath), false);
    assert.equal(service.state, 'uninitialized');
    assert.equal(resources.roots[0]?.wiped, true, 'the fresh root was wiped');
    // The token file is written before the keyring commit; without a keyring it unlocks nothing.
    assert.equal(tokens.length, 1);
    assert.equal(
      service.isOperatorToken(tokens[0] ?? ''),
      false,
      'the token of an aborted init is worthless',
    );

    await service.initialize(both);
    assert.equal(service.state, 'unsealed', 'init can be retried');
    assert.notEqual(resources.fingerprints[1], resources.fingerprints[0], 'with a new root');
  });
});

describe('SealService.unseal with a passphrase', () => {
  it('refuses a wrong passphrase: unseal_failed, still sealed, storage not opened', async () => {
    const { service, resources } = await initializedAndSealed();
    await assert.rejects(
      service.unseal({ passphrase: `${PASSPHRASE}!` }, 'op'),
      isCode('unseal_failed'),
    );
    assert.equal(service.state, 'sealed');
    assert.equal(resources.count('open'), 0);
    assert.throws(() => service.rootKey, isCode('sealed'));
  });

  it('refuses to unseal twice with already_unsealed', async () => {
    const { service, resources } = await initializedAndSealed();
    await service.unseal({ passphrase: PASSPHRASE }, 'op');
    await assert.rejects(
      service.unseal({ passphrase: PASSPHRASE }, 'op'),
      isCode('already_unsealed'),
    );
    await assert.rejects(
      service.unseal({ passphrase: 'wrong one' }, 'op'),
      isCode('already_unsealed'),
    );
    assert.equal(resources.count('open'), 1);
  });

  it('serialises concurrent unseals: exactly one succeeds, the other gets already_unsealed', async () => {
    const { service, resources } = await initializedAndSealed();
    const results = await Promise.allSettled([
      service.unseal({ passphrase: PASSPHRASE }, 'op-1'),
      service.unseal({ passphrase: PASSPHRASE }, 'op-2'),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const rejected = results.find((r) => r.status === 'rejected');
    assert.ok(rejected && isCode('already_unsealed')(rejected.reason), String(rejected));
    assert.equal(resources.count('open'), 1);
    assert.equal(service.state, 'unsealed');
  });

  it('refuses a passphrase when only shares are configured', async () => {
    const { service } = makeService();
    await service.initialize({ shares: { count: 3, threshold: 2 } });
    await service.seal();
    await assert.rejects(
      service.unseal({ passphrase: PASSPHRASE }, 'op'),
      isCode('provider_not_configured'),
    );
  });

  it('keeps nothing when storage fails to open: error propagates, sealed, root wiped', async () => {
    const { service, resources } = await initializedAndSealed();
    resources.failOpen = new BulwarkError('storage_corrupt', 'page 7 failed its HMAC');
    await assert.rejects(
      service.unseal({ passphrase: PASSPHRASE }, 'op'),
      isCode('storage_corrupt'),
    );
    assert.equal(service.state, 'sealed');
    assert.throws(() => service.rootKey, isCode('sealed'));
    const opened = resources.roots.at(-1);
    assert.equal(opened?.wiped, true, 'the unwrapped root was wiped');
    assert.ok(resources.calls.includes('close'), 'half-opened resources were closed');

    resources.failOpen = null;
    await service.unseal({ passphrase: PASSPHRASE }, 'op');
    assert.equal(service.state, 'unsealed', 'a later unseal still works');
  });
});

describe('SealService.unseal with shares', () => {
  it('counts shares one at a time and unseals at the threshold', async () => {
    const { service, resources, shares } = await initializedAndSealed();
    let status = await service.unseal({ share: share(shares, 4) }, 'op-a');
    assert.equal(status.state, 'sealed');
    assert.deepEqual(status.shares, { given: 1, threshold: 3, total: 5 });
    status = await service.unseal({ share: share(shares, 1) }, 'op-b');
    assert.deepEqual(status.shares, { given: 2, threshold: 3, total: 5 });
    assert.deepEqual(service.status().shares, { given: 2, threshold: 3, total: 5 });
    assert.equal(resources.count('open'), 0);
    status = await service.unseal({ share: share(shares, 2) }, 'op-c');
    assert.equal(status.state, 'unsealed');
    assert.equal(status.shares?.given, 0);
    assert.equal(resources.count('open'), 1);
    assert.equal(
      resources.fingerprints.at(-1),
      resources.fingerprints[0],
      'the init root came back',
    );
  });

  it('refuses a duplicate share and keeps progress', async () => {
    const { service, shares } = await initializedAndSealed();
    await service.unseal({ share: share(shares, 0) }, 'op');
    await assert.rejects(
      service.unseal({ share: share(shares, 0) }, 'op'),
      isCode('duplicate_share'),
    );
    await assert.rejects(
      service.unseal({ share: `  ${share(shares, 0)}\n` }, 'other-op'),
      isCode('duplicate_share'),
    );
    assert.equal(service.status().shares?.given, 1);
    await service.unseal({ share: share(shares, 1) }, 'op');
    const done = await service.unseal({ share: share(shares, 3) }, 'op');
    assert.equal(done.state, 'unsealed');
  });

  it('refuses malformed and foreign shares and keeps progress', async () => {
    const { service, shares, result } = await initializedAndSealed();
    await service.unseal({ share: share(shares, 0) }, 'op');
    const s1 = share(shares, 1);
    const damaged = `${s1.slice(0, 30)}${s1[30] === 'A' ? 'B' : 'A'}${s1.slice(31)}`;
    await assert.rejects(service.unseal({ share: damaged }, 'op'), isCode('invalid_share'));
    await assert.rejects(service.unseal({ share: 'hello' }, 'op'), isCode('invalid_share'));
    const foreign = encodeShare(
      'bwk_ffffffffffffffffffff',
      decodeShare(s1, result.installationId).bytes,
    );
    await assert.rejects(service.unseal({ share: foreign }, 'op'), isCode('foreign_share'));
    assert.equal(service.status().shares?.given, 1);
    assert.equal(service.state, 'sealed');
  });

  it('detects a forged share at the threshold: shares_mismatch, progress reset, still sealed', async () => {
    const { service, resources, shares, result } = await initializedAndSealed();
    const id = result.installationId;
    const xs = [0, 1].map((i) => decodeShare(share(shares, i), id).x);
    await service.unseal({ share: share(shares, 0) }, 'op');
    await service.unseal({ share: share(shares, 1) }, 'op');
    await assert.rejects(
      service.unseal({ share: forgedShare(id, xs) }, 'attacker'),
      isCode('shares_mismatch'),
    );
    assert.equal(service.state, 'sealed');
    assert.equal(service.status().shares?.given, 0);
    assert.equal(resources.count('open'), 0);

    // The genuine shares still work after the reset.
    for (const i of [2, 3]) await service.unseal({ share: share(shares, i) }, 'op');
    const done = await service.unseal({ share: share(shares, 4) }, 'op');
    assert.equal(done.state, 'unsealed');
  });

  it('clears progress on { reset: true } and on seal()', async () => {
    const { service, shares } = await initializedAndSealed();
    await service.unseal({ share: share(shares, 0) }, 'op');
    const reset = await service.unseal({ reset: true }, 'op');
    assert.equal(reset.shares?.given, 0);
    await service.unseal({ share: share(shares, 0) }, 'op');
    await service.seal();
    assert.equal(service.status().shares?.given, 0);
  });

  it('refuses shares when only a passphrase is configured', async () => {
    const { service } = makeService();
    const result = await service.initialize({ passphrase: PASSPHRASE });
    await service.seal();
    assert.equal(service.status().shares, null);
    const fake = forgedShare(result.installationId, []);
    await assert.rejects(service.unseal({ share: fake }, 'op'), isCode('provider_not_configured'));
  });
});

describe('SealService back-off', () => {
  it('rate-limits one source after its free failures without locking out the others', async () => {
    const clock = { now: 5_000_000 };
    const backoff = new FailureBackoff({ now: () => clock.now });
    const { service, resources } = await initializedAndSealed({ backoff });
    for (let i = 1; i <= 5; i++) {
      await assert.rejects(
        service.unseal({ passphrase: `wrong passphrase ${i}` }, '203.0.113.9'),
        isCode('unseal_failed'),
        `attempt ${i}`,
      );
    }
    // FailureBackoff: the first 5 failures are free; the 6th failure starts a 1 s wait.
    await assert.rejects(
      service.unseal({ passphrase: 'wrong passphrase 6' }, '203.0.113.9'),
      isCode('unseal_failed'),
    );
    await assert.rejects(
      service.unseal({ passphrase: PASSPHRASE }, '203.0.113.9'),
      isCode('rate_limited'),
      'even the right passphrase is refused while waiting (no oracle)',
    );
    assert.equal(service.state, 'sealed');
    assert.equal(resources.count('open'), 0);

    // Another source is not affected…
    const status = await service.unseal({ passphrase: PASSPHRASE }, '198.51.100.1');
    assert.equal(status.state, 'unsealed');
  });

  it('lets the limited source try again once its wait has passed', async () => {
    const clock = { now: 5_000_000 };
    const backoff = new FailureBackoff({ free: 1, baseMs: 2000, now: () => clock.now });
    const { service } = await initializedAndSealed({ backoff });
    for (const n of [1, 2]) {
      await assert.rejects(
        service.unseal({ passphrase: `nope ${n}` }, 'src'),
        isCode('unseal_failed'),
      );
    }
    await assert.rejects(service.unseal({ passphrase: PASSPHRASE }, 'src'), isCode('rate_limited'));
    clock.now += 1999;
    await assert.rejects(service.unseal({ passphrase: PASSPHRASE }, 'src'), isCode('rate_limited'));
    clock.now += 1;
    assert.equal((await service.unseal({ passphrase: PASSPHRASE }, 'src')).state, 'unsealed');
  });

  it('counts malformed shares and share mismatches as failures too', async () => {
    const clock = { now: 5_000_000 };
    const backoff = new FailureBackoff({ free: 1, now: () => clock.now });
    const { service, shares } = await initializedAndSealed({ backoff });
    await assert.rejects(service.unseal({ share: 'garbage' }, 'src'), isCode('invalid_share'));
    await assert.rejects(service.unseal({ share: 'garbage' }, 'src'), isCode('invalid_share'));
    await assert.rejects(
      service.unseal({ share: share(shares, 0) }, 'src'),
      isCode('rate_limited'),
    );
    assert.equal(service.status().shares?.given, 0);
  });
});

describe('SealService.seal and the operator token', () => {
  it('closes resources, wipes the root and refuses rootKey afterwards', async () => {
    const { service, resources } = makeService();
    await service.initialize(both);
    const root = service.rootKey;
    const held = root.exposeForWrapping();
    await service.seal();
    assert.deepEqual(resources.calls, ['initialize', 'close']);
    assert.equal(root.wiped, true);
    assert.deepEqual(held, Buffer.alloc(32), 'the root bytes were zeroed');
    assert.throws(() => service.rootKey, isCode('sealed'));
    assert.equal(service.state, 'sealed');

    const again = await service.seal();
    assert.equal(again.state, 'sealed', 'sealing twice is harmless');
    assert.equal(resources.count('close'), 1);
  });

  it('accepts only the operator token handed out at init', async () => {
    const { service, tokens } = makeService();
    await service.initialize(both);
    const token = tokens[0];
    assert.ok(token !== undefined && token.length >= 43);
    assert.equal(service.isOperatorToken(token), true);
    for (const wrong of ['', `${token}x`, token.slice(1), token.toUpperCase(), 'x'.repeat(43)]) {
      assert.equal(service.isOperatorToken(wrong), false, JSON.stringify(wrong));
    }
    await service.seal();
    assert.equal(service.isOperatorToken(token), true, 'still valid while sealed');
    assert.equal(makeService().service.isOperatorToken(token), true, 'and after a restart');
  });
});

describe('SealService across a restart', () => {
  it('comes up sealed on an existing keyring and unseals with the shares', async () => {
    const first = makeService();
    const result = await first.service.initialize(both);
    const initFingerprint = first.resources.fingerprints[0];
    await first.service.seal();

    const { service, resources } = makeService();
    assert.equal(service.state, 'sealed');
    assert.equal(service.status().installationId, result.installationId);
    assert.deepEqual(service.status().providers, ['passphrase', 'shamir']);
    for (const i of [3, 0]) await service.unseal({ share: share(result.shares, i) }, 'op');
    assert.equal(resources.count('open'), 0);
    const status = await service.unseal({ share: share(result.shares, 2) }, 'op');
    assert.equal(status.state, 'unsealed');
    assert.deepEqual(resources.calls, ['open']);
    assert.equal(resources.fingerprints[0], initFingerprint, 'the same root as at init');
    assert.equal(service.rootKey.installationId, result.installationId);
  });

  it('fails to start on a corrupt keyring rather than coming up uninitialised', async () => {
    const { service } = makeService();
    await service.initialize({ passphrase: PASSPHRASE });
    const text = readFileSync(keyringPath, 'utf8');
    rmSync(keyringPath);
    const keyring = new KeyringStore(keyringPath);
    keyring.create(JSON.parse(text.replace('"version": 1', '"version": 9')) as Keyring);
    assert.throws(() => makeService(), isCode('storage_corrupt'));
  });
});

import 'fake-indexeddb/auto';
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Me } from '../app/session.tsx';
import { bytesOf, containsBytes, memoryStorage, rawPut, rawRows, secret } from './test-support.ts';
import {
  addPrfWrapping,
  closeVault,
  lastSession,
  openVaultUserId,
  openVaultWithPassphrase,
  openVaultWithPrf,
  rememberDevice,
  resetVault,
  setDeviceStorage,
  setOfflinePassphrase,
  VaultCorruptError,
  VaultLockedError,
  VaultOpenError,
  vault,
  vaultInfo,
  vaultState,
} from './vault.ts';

let counter = 0;
const newUser = () => `user-${process.pid}-${++counter}`;
const marker = 'SECRET-MARKER-7f3a';

const isOpenError = (reason: string) => (error: unknown) =>
  error instanceof VaultOpenError && error.reason === reason;

afterEach(() => closeVault());

describe('vault', () => {
  test('round trip: put, get, list, delete', async () => {
    const user = newUser();
    await openVaultWithPrf(user, 'cred-1', secret(1));
    assert.equal(vaultState(), 'open');
    assert.equal(openVaultUserId(), user);
    await vault.put('board:p1:card-1', { title: 'Fix the login', n: 1 });
    await vault.put('board:p1:card-2', { title: 'Second' });
    await vault.put('board:p2:card-3', [1, 2, 3]);
    await vault.put('me', { ok: true });
    assert.deepEqual(await vault.get('board:p1:card-1'), { title: 'Fix the login', n: 1 });
    assert.equal(await vault.get('missing'), undefined);
    assert.deepEqual(await vault.list('board:p1:'), ['board:p1:card-1', 'board:p1:card-2']);
    assert.deepEqual(await vault.list('board:'), [
      'board:p1:card-1',
      'board:p1:card-2',
      'board:p2:card-3',
    ]);
    assert.deepEqual(await vault.list('m'), ['me']);
    assert.equal((await vault.list('')).length, 4);
    // '/'-separated names (the chat's) list by namespace too.
    await vault.put('chat/device/conversations/c1', 1);
    await vault.put('chat/device/identity', 2);
    await vault.put('chat/drafts/c1', 3);
    assert.deepEqual(await vault.list('chat/device/conversations/'), [
      'chat/device/conversations/c1',
    ]);
    assert.deepEqual(await vault.list('chat/'), [
      'chat/device/conversations/c1',
      'chat/device/identity',
      'chat/drafts/c1',
    ]);
    for (const name of await vault.list('chat')) await vault.delete(name);
    assert.equal((await vault.list('')).length, 4);
    await vault.put('board:p1:card-1', { title: 'Overwritten' });
    assert.deepEqual(await vault.get('board:p1:card-1'), { title: 'Overwritten' });
    await vault.delete('board:p1:card-1');
    assert.equal(await vault.get('board:p1:card-1'), undefined);
    assert.deepEqual(await vault.list('board:p1:'), ['board:p1:card-2']);
    await assert.rejects(vault.put('x', undefined), TypeError);

    closeVault();
    await openVaultWithPrf(user, 'cred-1', secret(1));
    assert.deepEqual(await vault.get('board:p2:card-3'), [1, 2, 3]);
  });

  test('IndexedDB holds no plaintext: not in values, not in record names', async () => {
    const user = newUser();
    await openVaultWithPrf(user, 'cred-1', secret(2));
    await vault.put('note:1', { title: `Title ${marker}`, body: marker.repeat(20) });
    await vault.put(`board:${marker}`, { ok: true });
    await vault.put('me', { user: { id: user, displayName: marker } });
    closeVault();
    const rows = await rawRows(user);
    assert.ok(rows.filter((r) => r.store === 'records').length === 3);
    const stored = bytesOf(rows);
    assert.equal(containsBytes(stored, new TextEncoder().encode(marker)), false);
    assert.equal(containsBytes(stored, new TextEncoder().encode('note:1')), false);
    assert.equal(containsBytes(stored, new TextEncoder().encode('board')), false);
    // A marker hidden in a value of our own making is found: the search works.
    assert.equal(
      containsBytes(
        bytesOf({ a: [new TextEncoder().encode(`x${marker}y`)] }),
        new TextEncoder().encode(marker),
      ),
      true,
    );
  });

  test('a wrong PRF secret cannot open, and an unknown passkey is told so', async () => {
    const user = newUser();
    await openVaultWithPrf(user, 'cred-1', secret(3));
    await vault.put('k', 'v');
    closeVault();
    await assert.rejects(openVaultWithPrf(user, 'cred-1', secret(4)), isOpenError('wrong-secret'));
    assert.equal(vaultState(), 'locked');
    await assert.rejects(
      openVaultWithPrf(user, 'cred-2', secret(3)),
      isOpenError('unknown-passkey'),
    );
    await assert.rejects(
      openVaultWithPassphrase(user, 'correct horse battery'),
      isOpenError('no-passphrase'),
    );
    // A wrapping copied into another user's store does not open it: the user is bound in.
    const wrapping = (await rawRows(user)).find((r) => r.store === 'wrappings');
    const other = newUser();
    await openVaultWithPrf(other, 'cred-9', secret(9));
    closeVault();
    await rawPut(other, 'wrappings', wrapping?.value);
    await assert.rejects(openVaultWithPrf(other, 'cred-1', secret(3)), isOpenError('wrong-secret'));
  });

  test('passphrase fallback: creates, rejects wrong and weak ones, reopens', async () => {
    const user = newUser();
    await assert.rejects(openVaultWithPassphrase(user, 'short'), isOpenError('weak-passphrase'));
    await openVaultWithPassphrase(user, 'correct horse battery staple');
    await vault.put('k', { marker });
    closeVault();
    await assert.rejects(
      openVaultWithPassphrase(user, 'correct horse battery stapler'),
      isOpenError('wrong-secret'),
    );
    await openVaultWithPassphrase(user, 'correct horse battery staple');
    assert.deepEqual(await vault.get('k'), { marker });
    const wrapping = (await rawRows(user)).find((r) => r.store === 'wrappings');
    assert.ok(Number(wrapping?.value.iterations) >= 600_000);
  });

  test('a second passkey wrapping opens the same data; so does a passphrase set later', async () => {
    const user = newUser();
    await openVaultWithPrf(user, 'cred-1', secret(5));
    await vault.put('k', 'shared');
    await addPrfWrapping('cred-2', secret(6));
    // Opening while open with a new credential adds its wrapping too.
    await openVaultWithPrf(user, 'cred-3', secret(7));
    await setOfflinePassphrase('an offline passphrase');
    closeVault();
    for (const [cred, s] of [
      ['cred-2', 6],
      ['cred-3', 7],
      ['cred-1', 5],
    ] as const) {
      await openVaultWithPrf(user, cred, secret(s));
      assert.equal(await vault.get('k'), 'shared');
      closeVault();
    }
    await openVaultWithPassphrase(user, 'an offline passphrase');
    assert.equal(await vault.get('k'), 'shared');
    const info = await vaultInfo(user);
    assert.deepEqual(info.credentialIds.sort(), ['cred-1', 'cred-2', 'cred-3']);
    assert.equal(info.hasPassphrase, true);
    closeVault();
    await assert.rejects(addPrfWrapping('cred-4', secret(8)), VaultLockedError);
  });

  test('a flipped ciphertext byte is rejected, not returned', async () => {
    const user = newUser();
    await openVaultWithPrf(user, 'cred-1', secret(9));
    await vault.put('k', { value: 'original' });
    const [row] = (await rawRows(user)).filter((r) => r.store === 'records');
    assert.ok(row);
    const data = new Uint8Array(row.value.data as Uint8Array);
    data[3] = (data[3] ?? 0) ^ 0x01;
    await rawPut(user, 'records', { ...row.value, data });
    await assert.rejects(vault.get('k'), VaultCorruptError);
  });

  test('a record moved under another key is rejected', async () => {
    const user = newUser();
    await openVaultWithPrf(user, 'cred-1', secret(10));
    await vault.put('role:alice', 'member');
    const before = (await rawRows(user)).filter((r) => r.store === 'records');
    await vault.put('role:bob', 'admin');
    const rows = (await rawRows(user)).filter((r) => r.store === 'records');
    const alice = before[0];
    const bob = rows.find((r) => r.value.id !== alice?.value.id);
    assert.ok(alice && bob);
    // Bob's sealed value copied under Alice's id: Alice must not read "admin".
    await rawPut(user, 'records', { ...bob.value, id: alice.value.id });
    await assert.rejects(vault.get('role:alice'), VaultCorruptError);
    await assert.rejects(vault.list('role:'), VaultCorruptError);
    // Only the value swapped (name kept): still rejected.
    await rawPut(user, 'records', { ...alice.value, iv: bob.value.iv, data: bob.value.data });
    await assert.rejects(vault.get('role:alice'), VaultCorruptError);
  });

  test('closeVault makes every operation throw VaultLockedError', async () => {
    const user = newUser();
    await openVaultWithPrf(user, 'cred-1', secret(11));
    await vault.put('k', 1);
    closeVault();
    assert.equal(vaultState(), 'locked');
    await assert.rejects(vault.get('k'), VaultLockedError);
    await assert.rejects(vault.put('k', 2), VaultLockedError);
    await assert.rejects(vault.delete('k'), VaultLockedError);
    await assert.rejects(vault.list(''), VaultLockedError);
    // A read in flight when the vault closes reads as locked too.
    await openVaultWithPrf(user, 'cred-1', secret(11));
    const pending = vault.get('k');
    closeVault();
    await assert.rejects(pending, VaultLockedError);
  });

  test('create: false reports a missing copy; resetVault starts fresh', async () => {
    const user = newUser();
    await assert.rejects(
      openVaultWithPrf(user, 'cred-1', secret(12), { create: false }),
      isOpenError('no-vault'),
    );
    await openVaultWithPrf(user, 'cred-1', secret(12));
    await vault.put('k', 1);
    await resetVault(user);
    assert.equal(vaultState(), 'locked');
    assert.equal((await vaultInfo(user)).exists, false);
    await openVaultWithPrf(user, 'cred-2', secret(13));
    assert.equal(await vault.get('k'), undefined);
  });

  test('rememberDevice keeps ids in localStorage and the profile inside the vault', async () => {
    const storage = memoryStorage();
    setDeviceStorage(storage);
    try {
      const user = newUser();
      const me: Me = {
        user: {
          id: user,
          displayName: marker,
          username: 'alice',
          email: 'alice@example.org',
          isAdmin: false,
        },
        methods: ['passkey'],
        stepUpAt: null,
        orgId: null,
        orgRole: null,
        policy: { satisfied: true },
      };
      await openVaultWithPrf(user, 'cred-1', secret(14));
      await rememberDevice(me, 'cred-1');
      await rememberDevice(me, 'cred-2');
      assert.deepEqual(lastSession(), { userId: user, credentialIds: ['cred-2', 'cred-1'] });
      const dump = storage.dump();
      assert.ok(!dump.includes(marker) && !dump.includes('alice'));
      closeVault();
      await openVaultWithPrf(user, 'cred-1', secret(14));
      assert.deepEqual(await vault.get('me'), me);
    } finally {
      setDeviceStorage(undefined);
    }
  });
});

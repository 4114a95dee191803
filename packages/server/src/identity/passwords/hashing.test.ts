import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  dummyVerify,
  hashPassword,
  needsRehash,
  parsePasswordHash,
  passwordHashCost,
  verifyPassword,
} from './hashing.ts';

const cheap = { memory: 8192, passes: 1, parallelism: 1 };

describe('password hashing (Argon2id, PHC strings)', () => {
  it('hashes to a PHC string with the current cost, a 16-byte salt and a 32-byte tag, and verifies', async () => {
    const phc = await hashPassword('correct horse battery staple');
    assert.match(phc, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    const parsed = parsePasswordHash(phc);
    assert.equal(parsed?.salt.length, 16);
    assert.equal(parsed?.tag.length, 32);
    assert.equal(await verifyPassword('correct horse battery staple', phc), true);
    assert.equal(needsRehash(phc), false);
  });

  it('salts: the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([hashPassword('same', cheap), hashPassword('same', cheap)]);
    assert.notEqual(a, b);
  });

  it('a wrong password does not verify', async () => {
    const phc = await hashPassword('correct horse battery staple', cheap);
    assert.equal(await verifyPassword('correct horse battery stapl', phc), false);
    assert.equal(await verifyPassword('Correct horse battery staple', phc), false);
    assert.equal(await verifyPassword('', phc), false);
  });

  it('verifies a hash made by the reference implementation (interoperable PHC format)', async () => {
    // "password", salt "somesalt", m=64 MiB, t=2, p=1 — the reference argon2
    // CLI's output, reproduced by other implementations' test suites.
    const reference =
      '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc';
    assert.equal(await verifyPassword('password', reference), true);
    assert.equal(await verifyPassword('Password', reference), false);
  });

  it('normalises to NFKC, so composed and decomposed accents are the same password', async () => {
    const phc = await hashPassword('caf\u00e9 au lait!', cheap);
    assert.equal(await verifyPassword('cafe\u0301 au lait!', phc), true);
  });

  it('a malformed or out-of-bounds PHC string is a non-match, never a throw', async () => {
    const good = await hashPassword('pw', cheap);
    const salt = good.split('$')[4] ?? '';
    const tag = good.split('$')[5] ?? '';
    const bad = [
      '',
      'not a hash',
      '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy', // bcrypt
      good.replace('$argon2id$', '$argon2i$'),
      good.replace('v=19', 'v=16'),
      good.replace('m=8192', 'm=08192'),
      good.replace('m=8192', 'm=4'), // below Argon2's minimum
      good.replace('m=8192', 'm=99999999'), // would allocate ~95 GiB
      good.replace('t=1', 't=0'),
      good.replace('t=1', 't=999'),
      good.replace('p=1', 'p=0'),
      `${good}=`, // padding
      `${good}$extra`,
      good.replace(tag, `${tag.slice(0, -1)}!`),
      good.replace(salt, 'c29t'), // 3-byte salt
      good.replace(tag, tag.slice(0, 10)), // short tag
      good.replace(salt, `${salt.slice(0, -1)}B`), // non-canonical trailing bits
      `$argon2id$v=19$m=8192,t=1,p=1${'$'.repeat(600)}`,
    ];
    for (const phc of bad) {
      assert.equal(parsePasswordHash(phc), null, phc);
      assert.equal(await verifyPassword('pw', phc), false, phc);
      assert.equal(needsRehash(phc), true);
    }
  });

  it('needsRehash when the stored cost is below the current one', async () => {
    const old = await hashPassword('pw', cheap);
    assert.equal(needsRehash(old), true);
    assert.equal(needsRehash(old, cheap), false);
    const stronger = old.replace('m=8192,t=1', 'm=65536,t=3');
    assert.equal(needsRehash(stronger), false, 'higher than current is fine');
    assert.equal(needsRehash(stronger.replace('t=3', 't=1')), true);
  });

  it('dummyVerify costs about what a real verify costs', async () => {
    const phc = await hashPassword('pw');
    const time = async (f: () => Promise<unknown>) => {
      const start = performance.now();
      await f();
      return performance.now() - start;
    };
    await dummyVerify(); // warm up
    let real = 0;
    let dummy = 0;
    for (let i = 0; i < 4; i++) {
      real += await time(() => verifyPassword('wrong', phc));
      dummy += await time(() => dummyVerify());
    }
    assert.ok(dummy > real * 0.5, `dummy ${dummy.toFixed(1)} ms vs real ${real.toFixed(1)} ms`);
    assert.deepEqual(passwordHashCost, { memory: 19456, passes: 2, parallelism: 1 });
  });
});

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { type Backend, testStorage, testUser } from '../../../../../test/support/storage.ts';
import { type Clock, SecretHasher } from '../secret-hasher.ts';
import { RecoveryCodeService } from './service.ts';

const FORMAT = /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/;
const clock: Clock = { now: () => new Date('2025-11-26T10:00:00Z') };

async function setup(t: TestContext, backend: Backend = 'sqlite') {
  const opened = await testStorage(t, backend);
  if (!opened) return null;
  const hasher = new SecretHasher(opened.root.derive('sessionMac'));
  t.after(() => hasher.wipe());
  const service = new RecoveryCodeService({ storage: opened.storage, hasher, clock });
  const userId = await testUser(opened.storage);
  return { ...opened, hasher, service, userId };
}

describe('recovery codes (sqlite)', () => {
  it('generates 10 distinct codes of 16 base32 characters, shown in groups of four', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const codes = await s.service.generate(s.userId);
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const code of codes) assert.match(code, FORMAT);
    assert.equal(await s.service.remaining(s.userId), 10);
  });

  it('redeems a code once only', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const [code = '', other = ''] = await s.service.generate(s.userId);
    assert.equal(await s.service.redeem(s.userId, code), true);
    assert.equal(await s.service.redeem(s.userId, code), false);
    assert.equal(await s.service.remaining(s.userId), 9);
    assert.equal(await s.service.redeem(s.userId, other), true, 'the others still work');
    assert.equal(await s.service.remaining(s.userId), 8);
  });

  it("does not accept one user's code for another", async (t) => {
    const s = await setup(t);
    if (!s) return;
    const mallory = await testUser(s.storage, 'Mallory');
    const [adaCode = ''] = await s.service.generate(s.userId);
    assert.equal(await s.service.redeem(mallory, adaCode), false, 'Mallory has no codes');
    await s.service.generate(mallory);
    assert.equal(await s.service.redeem(mallory, adaCode), false, 'nor with codes of her own');
    assert.equal(await s.service.redeem(s.userId, adaCode), true, 'and it was not used up');
  });

  it('regenerating kills every old code, used or not', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const old = await s.service.generate(s.userId);
    assert.equal(await s.service.redeem(s.userId, old[0] ?? ''), true);
    const fresh = await s.service.generate(s.userId);
    assert.equal(await s.service.remaining(s.userId), 10);
    for (const code of old) assert.equal(await s.service.redeem(s.userId, code), false, code);
    assert.deepEqual(
      fresh.filter((code) => old.includes(code)),
      [],
    );
    assert.equal(await s.service.redeem(s.userId, fresh[9] ?? ''), true);
    const rows = await s.storage.db
      .selectFrom('recovery_codes')
      .select('id')
      .where('user_id', '=', s.userId)
      .execute();
    assert.equal(rows.length, 10, 'old rows are deleted, not just disabled');
  });

  it('accepts a code typed with capitals, spaces and without dashes', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const codes = await s.service.generate(s.userId);
    const typed = [
      (codes[0] ?? '').toUpperCase(),
      ` ${(codes[1] ?? '').replaceAll('-', ' ')} `,
      (codes[2] ?? '').replaceAll('-', ''),
      (codes[3] ?? '').replaceAll('-', ' - ').toUpperCase(),
    ];
    for (const code of typed) assert.equal(await s.service.redeem(s.userId, code), true, code);
  });

  it('refuses malformed input', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const [code = ''] = await s.service.generate(s.userId);
    for (const bad of [
      '',
      code.slice(0, -1),
      `${code}a`,
      `${code.slice(0, -1)}0`, // 0, 1, 8, 9 are not base32
      code.replaceAll('-', '_'),
      `${code}\u0000`,
    ]) {
      assert.equal(await s.service.redeem(s.userId, bad), false, JSON.stringify(bad));
    }
    assert.equal(await s.service.remaining(s.userId), 10);
  });

  it('keeps no code in the clear: only its keyed hash', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const codes = await s.service.generate(s.userId);
    const rows = await s.storage.db
      .selectFrom('recovery_codes')
      .selectAll()
      .where('user_id', '=', s.userId)
      .execute();
    const dump = JSON.stringify(rows).toLowerCase();
    for (const code of codes) {
      assert.ok(!dump.includes(code), code);
      assert.ok(!dump.includes(code.replaceAll('-', '')), code);
    }
    const expected = codes.map((c) => s.hasher.hash('recovery-code', c.replaceAll('-', ''))).sort();
    assert.deepEqual(rows.map((r) => r.code_hash).sort(), expected);
  });
});

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`recovery code races (${backend})`, () => {
    it('lets exactly one of two concurrent redemptions of a code win', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      const codes = await s.service.generate(s.userId);
      for (const code of codes.slice(0, 5)) {
        const results: boolean[] = await Promise.all([
          s.service.redeem(s.userId, code),
          s.service.redeem(s.userId, code),
        ]);
        assert.equal(results.filter(Boolean).length, 1, `${code}: ${results}`);
      }
      assert.equal(await s.service.remaining(s.userId), 5);
    });

    it('leaves exactly one live set after two concurrent regenerations', async (t) => {
      const s = await setup(t, backend);
      if (!s) return;
      await s.service.generate(s.userId);
      // Warm the pool so both transactions have a connection at once and
      // really interleave, rather than one finishing while the other connects.
      await Promise.all([1, 2, 3].map(() => s.service.remaining(s.userId)));
      const [a, b] = await Promise.all([
        s.service.generate(s.userId),
        s.service.generate(s.userId),
      ]);
      assert.equal(await s.service.remaining(s.userId), 10);
      const aWorks = await s.service.redeem(s.userId, a[0] ?? '');
      const bWorks = await s.service.redeem(s.userId, b[0] ?? '');
      assert.notEqual(aWorks, bWorks, 'one set, not both');
    });
  });
}

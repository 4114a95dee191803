import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BulwarkError } from '../errors.ts';
import { RootKey } from '../keys/root-key.ts';
import { FieldCipher, type FieldContext } from './field-cipher.ts';

const INSTALLATION = 'bwk_0123456789abcdefghij';
const ctx: FieldContext = {
  table: 'users',
  column: 'email',
  rowId: 'f3c1a0de-0000-4000-8000-000000000001',
};
const SECRET = 'alice.secret@example.com';

function cipherFor(root: RootKey): FieldCipher {
  return new FieldCipher(root.derive('fieldEncryption'), root.derive('blindIndex'));
}

function isCorrupt(err: unknown): boolean {
  return err instanceof BulwarkError && err.code === 'storage_corrupt';
}

const root = RootKey.generate(INSTALLATION);
const fields = cipherFor(root);

describe('FieldCipher encryption', () => {
  it('round-trips, including empty and non-ASCII text', () => {
    for (const text of [SECRET, '', 'Zoë Ångström 🔐', 'x'.repeat(10_000)]) {
      assert.equal(fields.decrypt(ctx, fields.encrypt(ctx, text)), text);
    }
  });

  it('decryptRecent answers like decrypt, follows a changed value, and checks what it has not seen', () => {
    const local = cipherFor(RootKey.generate(INSTALLATION));
    const first = local.encrypt(ctx, 'policy v1');
    assert.equal(local.decryptRecent(ctx, first), 'policy v1');
    assert.equal(local.decryptRecent(ctx, first), 'policy v1');
    const second = local.encrypt(ctx, 'policy v2');
    assert.equal(local.decryptRecent(ctx, second), 'policy v2');
    // The same stored value under another row's context is not a hit: it must fail to open.
    assert.throws(() => local.decryptRecent({ ...ctx, rowId: 'other' }, first), isCorrupt);
    local.wipe();
    assert.throws(
      () => local.decryptRecent(ctx, first),
      (err) => err instanceof BulwarkError && err.code === 'sealed',
    );
  });

  it('round-trips nullable values and keeps null as null', () => {
    assert.equal(fields.encryptNullable(ctx, null), null);
    assert.equal(fields.decryptNullable(ctx, null), null);
    assert.equal(fields.decryptNullable(ctx, fields.encryptNullable(ctx, SECRET)), SECRET);
  });

  it('hides the plaintext and randomises each encryption', () => {
    const a = fields.encrypt(ctx, SECRET);
    const b = fields.encrypt(ctx, SECRET);
    assert.match(a, /^fe1\.[A-Za-z0-9_-]+$/);
    assert.notEqual(a, b);
    const body = Buffer.from(a.slice(4), 'base64url');
    for (const haystack of [a, body.toString('latin1')]) {
      assert.ok(!haystack.includes(SECRET));
      assert.ok(!haystack.includes('alice'));
    }
    assert.ok(!a.includes(Buffer.from(SECRET).toString('base64url').slice(0, 12)));
  });

  it('refuses a value moved to another row, column or table', () => {
    const stored = fields.encrypt(ctx, SECRET);
    const moves: FieldContext[] = [
      { ...ctx, rowId: 'f3c1a0de-0000-4000-8000-000000000002' },
      { ...ctx, column: 'display_name' },
      { ...ctx, table: 'settings' },
      { table: 'settings', column: 'value', rowId: ctx.rowId },
    ];
    for (const moved of moves) {
      assert.throws(() => fields.decrypt(moved, stored), isCorrupt, JSON.stringify(moved));
    }
  });

  it('binds the context unambiguously (no confusion across the dot)', () => {
    const stored = fields.encrypt({ table: 'a.b', column: 'c', rowId: '1' }, SECRET);
    assert.throws(
      () => fields.decrypt({ table: 'a', column: 'b.c', rowId: '1' }, stored),
      isCorrupt,
    );
    const quoted = fields.encrypt({ table: 't', column: 'c","x', rowId: '1' }, SECRET);
    assert.throws(
      () => fields.decrypt({ table: 't', column: 'c', rowId: 'x","1' }, quoted),
      isCorrupt,
    );
  });

  it('refuses a tampered ciphertext (any byte flipped) with storage_corrupt naming the field', () => {
    const stored = fields.encrypt(ctx, SECRET);
    const bytes = Buffer.from(stored.slice(4), 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      const tampered = Buffer.from(bytes);
      tampered[i] = (tampered[i] ?? 0) ^ 0x04;
      assert.throws(
        () => fields.decrypt(ctx, `fe1.${tampered.toString('base64url')}`),
        (err) => isCorrupt(err) && (err as Error).message.includes('users.email'),
        `byte ${i}`,
      );
    }
    assert.throws(
      () => fields.decrypt(ctx, `fe1.${bytes.subarray(0, 20).toString('base64url')}`),
      isCorrupt,
    );
    assert.throws(() => fields.decrypt(ctx, 'fe1.'), isCorrupt);
  });

  it('refuses a value made under another root, or the same root bytes of another installation', () => {
    const stored = fields.encrypt(ctx, SECRET);
    assert.throws(() => cipherFor(RootKey.generate(INSTALLATION)).decrypt(ctx, stored), isCorrupt);
    const bytes = root.exposeForWrapping();
    const twin = new RootKey(bytes, 'bwk_zzzzzzzzzzzzzzzzzzzz');
    assert.throws(() => cipherFor(twin).decrypt(ctx, stored), isCorrupt);
    assert.equal(cipherFor(new RootKey(bytes, INSTALLATION)).decrypt(ctx, stored), SECRET);
  });

  it('refuses an unknown version prefix or a value without one', () => {
    const stored = fields.encrypt(ctx, SECRET);
    const body = stored.slice(4);
    for (const bad of [`fe2.${body}`, `FE1.${body}`, `.${body}`, body, SECRET, '']) {
      assert.throws(() => fields.decrypt(ctx, bad), isCorrupt, bad.slice(0, 10));
    }
  });

  it('uses keys copied at construction: wiping the PurposeKeys later changes nothing', () => {
    const r = RootKey.generate(INSTALLATION);
    const fk = r.derive('fieldEncryption');
    const bk = r.derive('blindIndex');
    const cipher = new FieldCipher(fk, bk);
    const stored = cipher.encrypt(ctx, SECRET);
    const index = cipher.blindIndex('users.email', SECRET);
    fk.wipe();
    bk.wipe();
    assert.equal(cipher.decrypt(ctx, stored), SECRET);
    assert.equal(cipher.blindIndex('users.email', SECRET), index);
  });

  it('wipe() makes values undecryptable (sealed)', () => {
    const cipher = cipherFor(root);
    const stored = cipher.encrypt(ctx, SECRET);
    cipher.wipe();
    assert.throws(
      () => cipher.decrypt(ctx, stored),
      (err: unknown) => (err as { code?: string }).code === 'sealed',
    );
  });

  it('refuses to encrypt after wipe() instead of using an all-zero key', () => {
    const cipher = cipherFor(RootKey.generate(INSTALLATION));
    cipher.wipe();
    assert.throws(() => cipher.encrypt(ctx, SECRET));
    assert.throws(() => cipher.blindIndex('users.email', SECRET));
  });
});

describe('FieldCipher blind index', () => {
  const lower = (v: string) => v.trim().toLowerCase();

  it('is deterministic 256-bit hex and does not contain the value', () => {
    const a = fields.blindIndex('users.email', SECRET);
    assert.equal(a, fields.blindIndex('users.email', SECRET));
    assert.equal(
      a,
      cipherFor(new RootKey(root.exposeForWrapping(), INSTALLATION)).blindIndex(
        'users.email',
        SECRET,
      ),
    );
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.ok(!a.includes(Buffer.from(SECRET).toString('hex').slice(0, 16)));
  });

  it('differs per value and per index name', () => {
    const a = fields.blindIndex('users.email', SECRET);
    assert.notEqual(a, fields.blindIndex('users.email', `${SECRET}.`));
    assert.notEqual(a, fields.blindIndex('users.backup_email', SECRET));
    assert.notEqual(a, fields.blindIndex('users.emai', SECRET));
    assert.notEqual(a, fields.blindIndex('', SECRET));
  });

  it('differs per root and per installation', () => {
    const a = fields.blindIndex('users.email', SECRET);
    assert.notEqual(a, cipherFor(RootKey.generate(INSTALLATION)).blindIndex('users.email', SECRET));
    const twin = new RootKey(root.exposeForWrapping(), 'bwk_zzzzzzzzzzzzzzzzzzzz');
    assert.notEqual(a, cipherFor(twin).blindIndex('users.email', SECRET));
  });

  it('applies the normaliser: emails match case- and space-insensitively', () => {
    const canonical = fields.blindIndex('users.email', 'alice@example.com', lower);
    assert.equal(fields.blindIndex('users.email', 'Alice@Example.COM', lower), canonical);
    assert.equal(fields.blindIndex('users.email', '  ALICE@example.com ', lower), canonical);
    assert.equal(fields.blindIndex('users.email', 'alice@example.com'), canonical);
    assert.notEqual(
      fields.blindIndex('users.email', 'Alice@Example.COM'),
      canonical,
      'no normaliser: case matters',
    );
  });
});

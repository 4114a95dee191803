import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPasswordPolicy, isCommonPassword, type PasswordProblemCode } from './policy.ts';

const codes = (password: string, context = {}): PasswordProblemCode[] =>
  checkPasswordPolicy(password, context).map((p) => p.code);

describe('password policy', () => {
  it('refuses 11 characters and accepts 12', () => {
    assert.deepEqual(codes('tulip-Harbo'), ['too_short']);
    assert.deepEqual(codes('tulip-Harbor'), []);
  });

  it('counts Unicode code points after NFKC, not UTF-16 units or bytes', () => {
    // 11 emoji are 22 UTF-16 units and 44 bytes, but 11 characters.
    assert.deepEqual(codes('🔒'.repeat(11)), ['too_short']);
    assert.deepEqual(codes('🔒'.repeat(12)), []);
    // "e" + combining acute is one character after NFKC (é).
    assert.deepEqual(codes('cafe\u0301-tulips'), ['too_short']);
    assert.deepEqual(codes('cafe\u0301-tulips!'), []);
    // Full-width letters fold to ASCII under NFKC, so the list still catches them.
    assert.deepEqual(codes('ｐａｓｓｗｏｒｄ１２３４'), ['common']);
  });

  it('refuses more than 1024 characters', () => {
    assert.deepEqual(codes(`${'x7#'.repeat(341)}x`), []); // 1024
    assert.deepEqual(codes(`${'x7#'.repeat(341)}xy`), ['too_long']);
    assert.deepEqual(codes('a'.repeat(1_000_000)), ['too_long']);
  });

  it('refuses entries of the bundled breached-password list, case-insensitively', () => {
    // All three are in @zxcvbn-ts/language-common's passwords-common list.
    for (const listed of ['password1234', 'PassWord1234', 'qwertyuiop123', '1q2w3e4r5t6y']) {
      assert.deepEqual(codes(listed), ['common'], listed);
      assert.equal(isCommonPassword(listed), true);
    }
    assert.equal(isCommonPassword('tulip-Harbor'), false);
  });

  it('refuses a listed password stretched with trailing digits or symbols', () => {
    assert.deepEqual(codes('dragon12345678'), ['common']);
    assert.deepEqual(codes('monkey!!!!!!'), ['common']);
    assert.deepEqual(codes('dragon-tulip-harbor'), []);
  });

  it('refuses the username, the email’s local part or the name inside the password', () => {
    const context = {
      username: 'ada.lovelace',
      email: 'countess+work@example.org',
      displayName: 'Augusta Byron',
    };
    assert.deepEqual(codes('ada.lovelace', context), ['contains_username']);
    assert.deepEqual(codes('my-ADA.LOVELACE-pw', context), ['contains_username']);
    assert.deepEqual(codes('xx-countess+work-yy', context), ['contains_email']);
    assert.deepEqual(codes('the countess rules', context), ['contains_email']);
    assert.deepEqual(codes('i am augusta, hello', context), ['contains_name']);
    assert.deepEqual(codes('river-stone-lantern', context), []);
    // A short username is refused only as the whole password.
    assert.deepEqual(codes('bob-is-my-uncle', { username: 'bob' }), []);
  });

  it('lists every problem at once, and never echoes the password', () => {
    const problems = checkPasswordPolicy('ada12', { username: 'ada12' });
    assert.deepEqual(
      problems.map((p) => p.code),
      ['too_short', 'contains_username'],
    );
    for (const p of problems) assert.ok(!p.message.includes('ada12'));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { oidcConnectorSchema, oidcConnectorsSchema } from './config.ts';
import { OidcLoginError } from './connector.ts';
import { mapClaims } from './service.ts';

const base = { id: 'corp', issuer: 'https://id.example.org', clientId: 'bulwark' };

describe('OIDC connector config', () => {
  it('fills the defaults', () => {
    const c = oidcConnectorSchema.parse(base);
    assert.deepEqual(c.scopes, ['openid', 'email', 'profile']);
    assert.equal(c.redirectPath, '/v1/auth/oidc/corp/callback');
    assert.deepEqual(c.claims, {
      username: 'preferred_username',
      displayName: 'name',
      email: 'email',
      groups: 'groups',
    });
    assert.deepEqual(c.allowedEmailDomains, []);
    assert.equal(c.requireVerifiedEmail, true);
    assert.deepEqual(c.groupRoles, {});
  });

  it('accepts http only on loopback, and no query or fragment', () => {
    assert.ok(oidcConnectorSchema.safeParse({ ...base, issuer: 'http://127.0.0.1:9000' }).success);
    for (const issuer of [
      'http://id.example.org',
      'http://10.0.0.1',
      'ftp://id.example.org',
      'https://id.example.org/?x=1',
      'https://id.example.org/#x',
      'not a url',
    ]) {
      assert.equal(oidcConnectorSchema.safeParse({ ...base, issuer }).success, false, issuer);
    }
  });

  it('always asks for openid, refuses unknown keys and duplicate ids', () => {
    assert.deepEqual(oidcConnectorSchema.parse({ ...base, scopes: ['email'] }).scopes, [
      'openid',
      'email',
    ]);
    assert.equal(oidcConnectorSchema.safeParse({ ...base, clientSecret: 'x' }).success, false);
    assert.equal(oidcConnectorSchema.safeParse({ ...base, id: 'Bad Id' }).success, false);
    assert.equal(oidcConnectorsSchema.safeParse([base, base]).success, false);
    assert.equal(
      oidcConnectorSchema.safeParse({ ...base, groupRoles: { g: 'owner' } }).success,
      false,
    );
  });
});

describe('mapClaims', () => {
  const config = oidcConnectorSchema.parse({
    ...base,
    allowedEmailDomains: ['Example.org'],
    groupRoles: { admins: 'admin', staff: 'member' },
  });
  const claims = {
    sub: 's1',
    preferred_username: 'ada',
    name: 'Ada',
    email: 'ada@EXAMPLE.org',
    email_verified: true,
    groups: ['staff', 'admins'],
  };
  const reason = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err instanceof OidcLoginError ? err.reason : String(err);
    }
    return 'accepted';
  };

  it('maps names, email and the admin group', () => {
    assert.deepEqual(mapClaims(config, claims), {
      subject: 's1',
      username: 'ada',
      displayName: 'Ada',
      email: 'ada@EXAMPLE.org',
      groups: ['staff', 'admins'],
      isAdmin: true,
    });
    assert.equal(mapClaims(config, { ...claims, groups: 'staff' }).isAdmin, false);
    const noRoles = oidcConnectorSchema.parse(base);
    assert.equal('isAdmin' in mapClaims(noRoles, claims), false, 'no mapping: admin flag left');
  });

  it('refuses unverified emails and other domains', () => {
    assert.equal(
      reason(() => mapClaims(config, { ...claims, email_verified: false })),
      'email_not_verified',
    );
    assert.equal(
      reason(() => mapClaims(config, { ...claims, email_verified: 'true' })),
      'email_not_verified',
    );
    assert.equal(
      reason(() => mapClaims(config, { ...claims, email: 'ada@evil.test' })),
      'email_domain_not_allowed',
    );
    assert.equal(
      reason(() => mapClaims(config, { ...claims, email: 'ada@sub.example.org' })),
      'email_domain_not_allowed',
    );
    const { email: _e, ...noEmail } = claims;
    assert.equal(
      reason(() => mapClaims(config, noEmail)),
      'email_domain_not_allowed',
    );
    const anyDomain = oidcConnectorSchema.parse({ ...base, requireVerifiedEmail: false });
    assert.equal(
      reason(() => mapClaims(anyDomain, { ...claims, email_verified: false })),
      'accepted',
    );
  });
});

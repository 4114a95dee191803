import type { BulwarkConfig } from '../config/index.ts';
import type { App } from '../http/app.ts';

/**
 * What a sign-in page may offer: the methods this installation has
 * switched on and its LDAP / OIDC connectors (ids and kinds, nothing of
 * their configuration). An org's policy can still refuse a method after
 * login; the passkey satisfies every policy.
 */
export function registerLoginMethodsRoute(app: App, config: BulwarkConfig): void {
  const methods = {
    passkey: true,
    recoveryCodes: true,
    password: config.auth.passwords,
    sms: config.auth.sms.enabled,
    ldap: config.auth.ldap.connectors.map((c) => ({ id: c.id, kind: c.kind, org: c.org ?? null })),
    oidc: config.auth.oidc.map((c) => ({ id: c.id, org: c.org ?? null })),
  };
  app.get('/v1/auth/methods', { config: { action: 'auth.methods' } }, async () => methods);
}

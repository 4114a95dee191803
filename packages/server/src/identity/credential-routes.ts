import type { AuditLedger } from '../audit/ledger/ledger.ts';
import type { BulwarkConfig } from '../config/index.ts';
import type { App } from '../http/app.ts';
import type { IdentityContext } from './context.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { registerPasswordRoutes } from './passwords/routes.ts';
import { registerRecoveryRoutes } from './recovery/routes.ts';
import { defaultSessionPolicy } from './sessions/service.ts';
import { registerSmsRoutes } from './sms/routes.ts';
import { registerTotpRoutes } from './totp/routes.ts';

/** TOTP, recovery codes, passwords (when allowed) and SMS (when enabled). */
export function registerCredentialRoutes(
  app: App,
  identity: () => IdentityContext,
  config: BulwarkConfig,
  throttle: LoginThrottle,
  audit: () => AuditLedger,
) {
  const sessionMaxAgeSeconds = defaultSessionPolicy.absoluteHours * 3600;
  const totp = () => identity().totp;
  const recovery = () => identity().recovery;
  registerTotpRoutes(app, { identity, totp, throttle, audit });
  registerRecoveryRoutes(app, { identity, recovery, throttle, sessionMaxAgeSeconds, audit });
  const sms = config.auth.sms.enabled
    ? () => {
        const service = identity().sms;
        if (!service) throw new Error('SMS is enabled but no provider was built');
        return service;
      }
    : null;
  registerPasswordRoutes(app, {
    identity,
    passwords: () => identity().passwords,
    totp,
    recovery,
    sms,
    throttle,
    passwordsAllowed: config.auth.passwords,
    sessionMaxAgeSeconds,
    audit,
  });
  if (sms) registerSmsRoutes(app, sms, identity, audit);
}

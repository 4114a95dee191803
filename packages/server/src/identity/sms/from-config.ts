import { readFileSync } from 'node:fs';
import type { BulwarkConfig } from '../../config/index.ts';
import { DevLogSmsProvider } from './dev-log-provider.ts';
import { HttpGatewaySmsProvider } from './http-gateway-provider.ts';
import type { SmsProvider } from './provider.ts';

/**
 * The SMS provider the config asks for, or null when SMS is off (the
 * default). Problems are thrown as plain errors for start-up to report.
 */
export function smsProviderFromConfig(
  sms: BulwarkConfig['auth']['sms'],
  log: (msg: string) => void,
): SmsProvider | null {
  if (!sms.enabled) return null;
  if (sms.provider === 'dev-log') return new DevLogSmsProvider({ log, enabled: true });
  if (!sms.url || !sms.bearerTokenFile) {
    throw new Error('auth.sms: the http-gateway provider needs both url and bearerTokenFile');
  }
  let token: string;
  try {
    token = readFileSync(sms.bearerTokenFile, 'utf8').trim();
  } catch (err) {
    throw new Error(`auth.sms.bearerTokenFile ${sms.bearerTokenFile}: ${(err as Error).message}`);
  }
  if (!token) throw new Error(`auth.sms.bearerTokenFile ${sms.bearerTokenFile} is empty`);
  return new HttpGatewaySmsProvider({ url: sms.url, bearerToken: token });
}

import { SmsDeliveryError, type SmsProvider } from './provider.ts';

export interface DevLogSmsProviderOptions {
  log: (msg: string) => void;
  /** Must be set explicitly: this provider writes codes into the log. */
  enabled: boolean;
}

/**
 * For development only: "sends" by writing the message, code included, to
 * the log. It refuses to work unless explicitly enabled, so a forgotten
 * development setting cannot quietly leak codes into production logs.
 */
export class DevLogSmsProvider implements SmsProvider {
  readonly name = 'dev-log';
  readonly #log: (msg: string) => void;
  readonly #enabled: boolean;

  constructor(opts: DevLogSmsProviderOptions) {
    this.#log = opts.log;
    this.#enabled = opts.enabled === true;
  }

  async send(to: string, text: string): Promise<void> {
    if (!this.#enabled) throw new SmsDeliveryError('the development SMS provider is disabled');
    this.#log(`SMS to ${to}: ${text}`);
  }
}

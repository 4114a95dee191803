import { isIP } from 'node:net';
import { SmsDeliveryError, type SmsProvider } from './provider.ts';

export interface HttpGatewaySmsProviderOptions {
  /** The gateway endpoint: https, or http on a loopback host only (a local relay, tests). */
  url: string;
  bearerToken: string;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

/**
 * A generic HTTP SMS gateway: `POST <url>` with JSON `{ "to", "text" }` and
 * `Authorization: Bearer <token>`; any 2xx is delivered. Errors name the
 * status or the timeout — never the token, the number or the text (which
 * holds the code).
 */
export class HttpGatewaySmsProvider implements SmsProvider {
  readonly name = 'http-gateway';
  readonly #url: URL;
  readonly #bearerToken: string;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(opts: HttpGatewaySmsProviderOptions) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw new TypeError('The SMS gateway URL is not a valid URL.');
    }
    // Plain http would show the bearer token and every code to the network.
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      throw new TypeError('The SMS gateway URL must use https (http only on a loopback host).');
    }
    if (url.username !== '' || url.password !== '') {
      throw new TypeError('Put the SMS gateway credentials in the bearer token, not in the URL.');
    }
    if (opts.bearerToken === '' || /[\r\n]/.test(opts.bearerToken)) {
      throw new TypeError('The SMS gateway bearer token is empty or holds a line break.');
    }
    const timeoutMs = opts.timeoutMs ?? 10_000;
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new TypeError(
        'The SMS gateway timeout must be a positive whole number of milliseconds.',
      );
    }
    this.#url = url;
    this.#bearerToken = opts.bearerToken;
    this.#timeoutMs = timeoutMs;
    this.#fetch = opts.fetchImpl ?? fetch;
  }

  async send(to: string, text: string): Promise<void> {
    let res: Response;
    try {
      res = await this.#fetch(this.#url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${this.#bearerToken}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: JSON.stringify({ to, text }),
        // A redirect could carry the token and the code somewhere else.
        redirect: 'error',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw new SmsDeliveryError(`The SMS gateway did not answer within ${this.#timeoutMs} ms.`);
      }
      throw new SmsDeliveryError('The SMS gateway could not be reached.', { cause: err });
    }
    // The body is not read: an error page may echo the request (and so the code).
    await res.body?.cancel().catch(() => {});
    if (res.status < 200 || res.status > 299) {
      throw new SmsDeliveryError(`The SMS gateway answered HTTP ${res.status}.`, {
        status: res.status,
      });
    }
  }
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

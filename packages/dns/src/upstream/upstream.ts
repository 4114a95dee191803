/**
 * An upstream resolver the firewall forwards to. Only encrypted transports
 * exist here: DNS over TLS and DNS over HTTPS (ARCHITECTURE.md: no
 * plaintext DNS leaves the organisation), with the certificate verified.
 */
import { readFileSync } from 'node:fs';
import { createDohUpstream } from './doh.ts';
import { createDotUpstream } from './dot.ts';
import { bareHost, tlsClientOptions } from './transport.ts';

export interface Upstream {
  /** e.g. `tls://192.0.2.1:853` or the DoH URL. */
  readonly id: string;
  readonly url: string;
  /** Sends one DNS query (wire format, any id) and resolves with the response (wire, with the query's id restored). */
  exchange(query: Uint8Array, signal: AbortSignal): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface UpstreamConfig {
  /** `tls://host[:port]` (port 853) or `https://host[:port]/path`. */
  url: string;
  /** The name the certificate must carry; defaults to the URL's host. */
  serverName?: string;
  /** PEM file of the CAs to trust; defaults to the system CAs. */
  caFile?: string;
  /** Base64 SHA-256 of a SubjectPublicKeyInfo; when given, one must match the chain. */
  spkiPins?: string[];
}

const PLAINTEXT =
  'upstreams must be tls:// or https://: plaintext DNS never leaves the organisation';
const DOT_PORT = 853;
const SPKI_PIN = /^[A-Za-z0-9+/]{43}=$/;

/** Builds an upstream from its configuration; throws a clear Error for anything but a well-formed tls:// or https:// URL. */
export function createUpstream(config: UpstreamConfig): Upstream {
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw new Error(`upstream URL ${JSON.stringify(config.url)} is malformed; ${PLAINTEXT}`);
  }
  if (url.protocol !== 'tls:' && url.protocol !== 'https:') {
    throw new Error(`upstream ${url.protocol}// refused: ${PLAINTEXT}`);
  }
  // tls: is not a "special" scheme to WHATWG URL, so its host is not case-folded for us.
  const host = bareHost(url.hostname).toLowerCase();
  if (host === '') throw new Error(`upstream URL ${config.url} has no host`);
  if (url.username !== '' || url.password !== '') {
    // Credentials in a URL end up in logs and status pages.
    throw new Error('upstream URLs carry no user name or password');
  }
  for (const pin of config.spkiPins ?? []) {
    if (!SPKI_PIN.test(pin)) throw new Error(`SPKI pin ${pin} is not a base64 SHA-256 digest`);
  }
  const tls = tlsClientOptions({
    serverName: config.serverName ?? host,
    ...(config.caFile === undefined ? {} : { ca: readCa(config.caFile) }),
    ...(config.spkiPins === undefined ? {} : { spkiPins: config.spkiPins }),
  });

  if (url.protocol === 'tls:') {
    if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
      throw new Error(`upstream ${config.url}: a tls:// URL is host and port only`);
    }
    const port = url.port === '' ? DOT_PORT : Number(url.port);
    const id = `tls://${url.hostname.toLowerCase()}:${port}`;
    return createDotUpstream({ id, url: config.url, host, port, tls });
  }
  if (url.hash !== '') throw new Error(`upstream ${config.url}: a DoH URL has no fragment`);
  return createDohUpstream({
    id: url.href,
    url: config.url,
    origin: url.origin,
    path: `${url.pathname}${url.search}`,
    tls,
  });
}

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`upstream CA file ${file} cannot be read`, { cause: error });
  }
}

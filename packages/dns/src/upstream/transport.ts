/**
 * What DoT and DoH share: how the upstream's certificate is verified, and
 * the error that says "the connection went away under this query".
 */
import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import {
  type ConnectionOptions,
  checkServerIdentity,
  type DetailedPeerCertificate,
  type PeerCertificate,
} from 'node:tls';

/** Unused connections are closed after this long (RFC 7766 §6.2.3: clients close idle connections). */
export const IDLE_CLOSE_MS = 30_000;
/** A connection that has not finished its TLS handshake by then is given up. */
export const HANDSHAKE_TIMEOUT_MS = 5_000;
/**
 * A query abandoned after waiting this long on a connection that has sent
 * nothing back since it was written suggests a dead path (a NAT that
 * forgot us, a stuck server): that connection is dropped so the next query
 * opens a fresh one instead of queueing behind it forever.
 */
export const SILENT_CONNECTION_MS = 1_000;

export interface TlsSettings {
  /** The name the certificate must carry (a DNS name or an IP address). */
  serverName: string;
  /** PEM CA certificates to trust instead of the system store. */
  ca?: string;
  /** Base64 SHA-256 of a SubjectPublicKeyInfo; one must appear in the chain. */
  spkiPins?: readonly string[];
}

/**
 * The connection lost (closed, reset, GOAWAY) while a query was in flight.
 * `retryable` is true when the connection had been working: a server that
 * closes an idle or long-lived connection is normal (RFC 7766 §6.2.3), so the
 * query is worth one more try on a fresh connection. A connection that never
 * came up, or that we killed for a protocol violation, is not retried.
 */
export class ConnectionLostError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ConnectionLostError';
    this.retryable = retryable;
  }
}

/** The reason a signal was aborted, as an Error to reject with. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('DNS query aborted', { cause: reason });
}

/** `host` of a URL without IPv6 brackets (`[::1]` → `::1`), as sockets and certificates want it. */
export function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

/**
 * TLS client options for an upstream: TLS 1.3 only (no legacy cipher
 * suites or renegotiation, and the certificate is hidden from on-path observers),
 * the chain verified against the CA store, the name checked against
 * `serverName` (not whatever host we dialled), and, when pins are given,
 * one of them must match a certificate in the verified chain (the
 * SPKI-pinning profile, RFC 7858 §4.2).
 */
export function tlsClientOptions(settings: TlsSettings): ConnectionOptions {
  const pins = new Set(settings.spkiPins ?? []);
  return {
    minVersion: 'TLSv1.3',
    rejectUnauthorized: true,
    ...(settings.ca === undefined ? {} : { ca: settings.ca }),
    // SNI carries DNS names only (RFC 6066 §3); an IP is verified without it.
    ...(isIP(settings.serverName) ? {} : { servername: settings.serverName }),
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      const wrongName = checkServerIdentity(settings.serverName, cert);
      if (wrongName) return wrongName;
      if (pins.size > 0 && !chainPins(cert).some((pin) => pins.has(pin))) {
        return new Error(
          `no certificate of ${settings.serverName} matches the configured SPKI pins`,
        );
      }
      return undefined;
    },
  };
}

/** The SPKI pins of the leaf and every issuer in the chain Node hands to checkServerIdentity. */
function chainPins(leaf: PeerCertificate): string[] {
  const pins: string[] = [];
  const seen = new Set<string>();
  let cert: DetailedPeerCertificate | undefined = leaf as DetailedPeerCertificate;
  while (cert?.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    // Not `cert.pubkey`: for EC keys that is the bare point, not the SPKI a pin hashes.
    pins.push(spkiPin(new X509Certificate(cert.raw)));
    cert = cert.issuerCertificate;
  }
  return pins;
}

/** The SPKI pin (base64 SHA-256 of the DER SubjectPublicKeyInfo) of a certificate, for configuration and tests. */
export function spkiPin(cert: X509Certificate): string {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

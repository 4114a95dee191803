import { Agent, request } from 'node:https';
import { getCACertificates } from 'node:tls';
import { ApiError, TransportError } from '@bulwark/chat';
import {
  type InitRequest,
  type InitResponse,
  initResponseSchema,
  type RekeyRequest,
  type RekeyResponse,
  rekeyResponseSchema,
  type SetupLinkResponse,
  type SysStatus,
  setupLinkResponseSchema,
  sysStatusSchema,
  type UnsealRequest,
} from '@bulwark/protocol';
import {
  type AuditEntriesAnswer,
  type AuditHeadsAnswer,
  type AuditKeyAnswer,
  type AuditVerifyAnswer,
  auditEntriesSchema,
  auditHeadsSchema,
  auditKeySchema,
  auditVerifySchema,
  type ConsistencyAnswer,
  consistencySchema,
  type InclusionAnswer,
  inclusionSchema,
} from './audit/schemas.ts';

// One pair of error classes for the CLI and the chat core (defined there), so `instanceof` holds for both.
export { ApiError, TransportError };

export interface BulwarkClient {
  status(): Promise<SysStatus>;
  init(req: InitRequest): Promise<InitResponse>;
  unseal(req: UnsealRequest): Promise<SysStatus>;
  seal(operatorToken: string): Promise<SysStatus>;
  rekey(operatorToken: string, req: RekeyRequest): Promise<RekeyResponse>;
  setupLink(operatorToken: string): Promise<SetupLinkResponse>;
  /** The audit ledger's routes (docs/api.md, "Audit ledger"), with the operator token. */
  audit: AuditClient;
}

export interface AuditClient {
  key(token: string): Promise<AuditKeyAnswer>;
  /** The latest signed checkpoint note (the server signs one if there is none yet). */
  checkpoint(token: string): Promise<string>;
  /** Signs the current head now; its checkpoint note. */
  signHead(token: string): Promise<string>;
  inclusion(token: string, seq: number, size: number): Promise<InclusionAnswer>;
  consistency(token: string, from: number, to: number): Promise<ConsistencyAnswer>;
  entries(token: string, from: number, limit: number): Promise<AuditEntriesAnswer>;
  heads(token: string): Promise<AuditHeadsAnswer>;
  verify(token: string): Promise<AuditVerifyAnswer>;
}

export interface ClientOptions {
  /** Base URL, ending in `/`. */
  server: URL;
  /** The only CA to trust, or null for the system trust store. */
  ca: { file: string; pem: string } | null;
  /** Socket inactivity limit; init and rekey run Argon2id, so allow them a while. */
  timeoutMs?: number;
}

/** Structural view of a zod schema, so this module needs no zod import. */
export interface Schema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false };
}

const maxAnswerBytes = 1024 * 1024;
/** Every signed head in one answer: a few hundred bytes each, unpaginated. */
const maxHeadsBytes = 64 * 1024 * 1024;

/** OpenSSL verification results (Node puts them in `err.code`). */
const certificateErrors = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function createClient(opts: ClientOptions): BulwarkClient {
  // Verification stays on (the default). With a CA file only that CA is trusted;
  // without one, Node's own roots and the operating system's trust store.
  const agent = new Agent({
    minVersion: 'TLSv1.3',
    keepAlive: false,
    ca: opts.ca ? opts.ca.pem : systemTrust(),
  });
  const timeoutMs = opts.timeoutMs ?? 120_000;

  /** One request; resolves with the status and body of any complete answer. */
  function send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    token: string | undefined,
    limit: number,
  ): Promise<{ status: number; raw: Buffer; url: URL }> {
    const url = new URL(path, opts.server);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (token !== undefined) headers.authorization = `Bearer ${token}`;

    return new Promise((resolvePromise, reject) => {
      const req = request(url, { method, agent, headers, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limit) {
            res.destroy();
            reject(new TransportError(`the answer from ${opts.server.origin} is too large`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => reject(describeNetworkError(err, opts)));
        res.on('end', () => {
          resolvePromise({ status: res.statusCode ?? 0, raw: Buffer.concat(chunks), url });
        });
      });
      req.on('timeout', () => {
        req.destroy(
          new TransportError(`${opts.server.origin} did not answer within ${timeoutMs / 1000} s`),
        );
      });
      req.on('error', (err) => reject(describeNetworkError(err, opts)));
      req.end(payload);
    });
  }

  async function call<T>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    schema: Schema<T>,
    token?: string,
    limit = maxAnswerBytes,
  ): Promise<T> {
    const { status, raw, url } = await send(method, path, body, token, limit);
    return readAnswer(status, raw, schema, url);
  }

  /** A `text/plain` answer (checkpoint notes); errors still come as JSON. */
  async function callText(method: 'GET' | 'POST', path: string, token: string): Promise<string> {
    const body = method === 'POST' ? {} : undefined;
    const { status, raw, url } = await send(method, path, body, token, maxAnswerBytes);
    if (status >= 200 && status < 300) {
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(raw);
      } catch {
        throw new TransportError(`the answer of ${url.origin}${url.pathname} is not UTF-8 text`);
      }
    }
    return readAnswer(status, raw, { safeParse: () => ({ success: false }) }, url);
  }

  const audit: AuditClient = {
    key: (token) => call('GET', 'v1/audit/key', undefined, auditKeySchema, token),
    checkpoint: (token) => callText('GET', 'v1/audit/checkpoint', token),
    signHead: (token) => callText('POST', 'v1/audit/checkpoint', token),
    inclusion: (token, seq, size) =>
      call(
        'GET',
        `v1/audit/proofs/inclusion?seq=${seq}&size=${size}`,
        undefined,
        inclusionSchema,
        token,
      ),
    consistency: (token, from, to) =>
      call(
        'GET',
        `v1/audit/proofs/consistency?from=${from}&to=${to}`,
        undefined,
        consistencySchema,
        token,
      ),
    entries: (token, from, limit) =>
      call(
        'GET',
        `v1/audit/entries?from=${from}&limit=${limit}`,
        undefined,
        auditEntriesSchema,
        token,
      ),
    heads: (token) =>
      call('GET', 'v1/audit/heads', undefined, auditHeadsSchema, token, maxHeadsBytes),
    verify: (token) => call('POST', 'v1/audit/verify', {}, auditVerifySchema, token),
  };

  return {
    status: () => call('GET', 'v1/sys/status', undefined, sysStatusSchema),
    init: (req) => call('POST', 'v1/sys/init', req, initResponseSchema),
    unseal: (req) => call('POST', 'v1/sys/unseal', req, sysStatusSchema),
    // An empty JSON object: the seal call has no parameters, only the bearer token.
    seal: (token) => call('POST', 'v1/sys/seal', {}, sysStatusSchema, token),
    rekey: (token, req) => call('POST', 'v1/sys/rekey', req, rekeyResponseSchema, token),
    setupLink: (token) => call('POST', 'v1/sys/setup-link', {}, setupLinkResponseSchema, token),
    audit,
  };
}

function systemTrust(): string[] {
  return [...new Set([...getCACertificates('default'), ...getCACertificates('system')])];
}

function readAnswer<T>(status: number, raw: Buffer, schema: Schema<T>, url: URL): T {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new TransportError(
      `${url.origin} answered HTTP ${status} without JSON: is it a Bulwark server?`,
    );
  }
  if (status >= 200 && status < 300) {
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      throw new TransportError(
        `the answer of ${url.origin}${url.pathname} does not match the Bulwark protocol: is the server the same version as this CLI?`,
      );
    }
    return parsed.data;
  }
  const error = errorOf(body);
  if (!error) {
    throw new TransportError(`${url.origin} answered HTTP ${status} without an error description`);
  }
  throw new ApiError(error.code, error.message, status);
}

function errorOf(body: unknown): { code: string; message: string } | null {
  if (typeof body !== 'object' || body === null || !('error' in body)) return null;
  const error: unknown = body.error;
  if (typeof error !== 'object' || error === null) return null;
  if (!('code' in error) || !('message' in error)) return null;
  if (typeof error.code !== 'string' || typeof error.message !== 'string') return null;
  return { code: error.code, message: error.message };
}

function describeNetworkError(err: Error, opts: ClientOptions): Error {
  if (err instanceof TransportError) return err;
  const origin = opts.server.origin;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ECONNREFUSED') {
    return new TransportError(
      `no Bulwark server answers at ${origin} — is it running? (\`npm start\`)`,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new TransportError(`cannot resolve the host name of ${origin} (${code})`);
  }
  if (certificateErrors.has(code) || code.includes('CERT')) {
    const trusted = opts.ca
      ? `the CA certificate ${opts.ca.file}`
      : 'the system trust store (no --ca given, and no <data-dir>/tls/ca.crt found)';
    const hint = opts.ca
      ? 'Is that the CA of this server? The server keeps its CA in <data-dir>/tls/ca.crt.'
      : "Pass the server's local CA with --ca <file> (the server keeps it in <data-dir>/tls/ca.crt).";
    // Node's own text for a wrong host name is the clearest; for the rest the code says it.
    const reason = code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? err.message : code;
    return new TransportError(
      `the TLS certificate of ${origin} could not be verified against ${trusted} (${reason}). ${hint}`,
    );
  }
  if (/wrong version number|packet length too long|http request/i.test(err.message)) {
    return new TransportError(`${origin} does not speak TLS: is that a plain HTTP port?`);
  }
  if (/protocol version|unsupported protocol/i.test(err.message)) {
    return new TransportError(`${origin} does not offer TLS 1.3, which Bulwark requires`);
  }
  if (code === 'ECONNRESET') {
    return new TransportError(`the connection to ${origin} was closed unexpectedly`);
  }
  return new TransportError(`cannot talk to ${origin}: ${err.message}${code ? ` (${code})` : ''}`);
}

/**
 * DNS over HTTPS (RFC 8484): each query is an HTTP/2 POST of the wire
 * message as `application/dns-message`, all on one reused session. The
 * message id goes out as 0 (§4.1: it makes identical queries cacheable by
 * HTTP caches) and the caller's id is put back on the answer.
 */
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type SecureClientSessionOptions,
} from 'node:http2';
import type { ConnectionOptions } from 'node:tls';
import {
  abortReason,
  ConnectionLostError,
  HANDSHAKE_TIMEOUT_MS,
  IDLE_CLOSE_MS,
  SILENT_CONNECTION_MS,
} from './transport.ts';
import type { Upstream } from './upstream.ts';
import { checkQuery, MAX_MESSAGE, messageId, responseMismatch, withId } from './wire.ts';

const DNS_MESSAGE = 'application/dns-message';

export interface DohOptions {
  id: string;
  url: string;
  /** `https://host:port` */
  origin: string;
  /** Path and query of the endpoint, e.g. `/dns-query`. */
  path: string;
  tls: ConnectionOptions;
  idleMs?: number;
}

export function createDohUpstream(options: DohOptions): Upstream {
  return new DohUpstream(options);
}

/** One HTTP/2 session and what we know of it. */
interface Session {
  http: ClientHttp2Session;
  established: boolean;
  /** Closed, failed or sent GOAWAY: takes no new streams. */
  gone: boolean;
  lastResponseAt: number;
  active: number;
}

class DohUpstream implements Upstream {
  readonly id: string;
  readonly url: string;
  readonly #options: DohOptions;
  #session: Session | null = null;
  #closed = false;

  constructor(options: DohOptions) {
    this.id = options.id;
    this.url = options.url;
    this.#options = options;
  }

  async exchange(query: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    checkQuery(query);
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      if (this.#closed) throw new Error(`${this.id}: upstream closed`);
      try {
        return await this.#post(this.#current(), query, signal);
      } catch (error) {
        // A session that worked and then went away (GOAWAY, reset) gets the
        // query once more on a new session.
        if (attempt === 0 && error instanceof ConnectionLostError && error.retryable) continue;
        throw error;
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const session = this.#session;
    this.#session = null;
    if (session === null || session.http.destroyed) return;
    const closed = new Promise((resolve) => session.http.once('close', resolve));
    session.gone = true;
    session.http.destroy();
    await closed;
  }

  #current(): Session {
    if (this.#session !== null && !this.#session.gone) return this.#session;
    const options: SecureClientSessionOptions = {
      ...this.#options.tls,
      // Pushed responses are of no use to a forwarder.
      settings: { enablePush: false },
    };
    const http = connect(this.#options.origin, options);
    const session: Session = {
      http,
      established: false,
      gone: false,
      lastResponseAt: 0,
      active: 0,
    };
    const retire = () => {
      session.gone = true;
      if (this.#session === session) this.#session = null;
    };
    const handshake = setTimeout(() => {
      http.destroy(new ConnectionLostError(`${this.id}: TLS handshake timed out`, false));
    }, HANDSHAKE_TIMEOUT_MS);
    handshake.unref();
    http.once('connect', () => {
      clearTimeout(handshake);
      session.established = true;
    });
    // Errors reach the streams too; the session listener only keeps them from being thrown.
    http.on('error', retire);
    http.on('goaway', retire);
    http.once('close', () => {
      clearTimeout(handshake);
      retire();
    });
    // Like DoT: one long-lived session, closed once unused for a while.
    http.setTimeout(this.#options.idleMs ?? IDLE_CLOSE_MS, () => {
      retire();
      http.close();
    });
    http.unref();
    this.#session = session;
    return session;
  }

  #post(session: Session, query: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    const wire = withId(query, 0);
    const startedAt = performance.now();
    let stream: ClientHttp2Stream;
    try {
      stream = session.http.request({
        ':method': 'POST',
        ':path': this.#options.path,
        'content-type': DNS_MESSAGE,
        accept: DNS_MESSAGE,
        'content-length': wire.length,
      });
    } catch (error) {
      // The session died between our last look and now: a new one will do.
      session.gone = true;
      if (this.#session === session) this.#session = null;
      throw new ConnectionLostError(`${this.id}: session closed`, true, error);
    }
    session.active += 1;
    session.http.ref();

    return new Promise<Uint8Array>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (error: Error | null, response?: Uint8Array) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        session.active -= 1;
        if (session.active === 0) session.http.unref();
        if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
        if (error !== null) reject(error);
        else if (response !== undefined) resolve(response);
      };
      const refuse = (why: string) => settle(new Error(`${this.id}: ${why}`));
      const onAbort = () => {
        settle(abortReason(signal));
        // Nothing came back on this session since the query went out: the
        // path may be dead, so do not keep sending into it.
        const silentFor = performance.now() - startedAt;
        if (session.lastResponseAt < startedAt && silentFor >= SILENT_CONNECTION_MS) {
          session.gone = true;
          if (this.#session === session) this.#session = null;
          session.http.destroy();
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });

      let answered = false;
      stream.on('response', (headers) => {
        session.lastResponseAt = performance.now();
        answered = true;
        const status = headers[':status'];
        if (status !== 200) return refuse(`HTTP status ${status}`);
        const type = String(headers['content-type'] ?? '')
          .split(';')[0]
          ?.trim()
          .toLowerCase();
        if (type !== DNS_MESSAGE)
          return refuse(`content-type ${type || 'missing'}, not ${DNS_MESSAGE}`);
        if (Number(headers['content-length'] ?? 0) > MAX_MESSAGE) return refuse('answer too large');
      });
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_MESSAGE) return refuse('answer larger than 65535 octets');
        chunks.push(chunk);
      });
      // The body is judged at 'close', once the stream's fate is known: a
      // session torn down mid-answer also ends the stream, but with a reset code.
      stream.on('close', () => {
        if (!answered || !stream.readableEnded || stream.rstCode !== constants.NGHTTP2_NO_ERROR) {
          return settle(
            this.#lost(session, stream, new Error(`stream closed (code ${stream.rstCode})`)),
          );
        }
        const body = Buffer.concat(chunks);
        const mismatch = responseMismatch(wire, body);
        if (mismatch !== null) return refuse(mismatch);
        settle(null, withId(body, messageId(query)));
      });
      stream.on('error', (error) => settle(this.#lost(session, stream, error)));
      stream.end(wire);
    });
  }

  /** The error for a stream that ended without an answer; retryable when a working session went away. */
  #lost(session: Session, stream: ClientHttp2Stream, cause: Error): Error {
    if (cause instanceof ConnectionLostError) return cause;
    // REFUSED_STREAM promises the server did not process it (RFC 9113 §8.7).
    const refused = stream.rstCode === constants.NGHTTP2_REFUSED_STREAM;
    const retryable = session.established && (session.gone || session.http.destroyed || refused);
    return new ConnectionLostError(`${this.id}: ${cause.message}`, retryable, cause);
  }
}

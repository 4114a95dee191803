/**
 * A small authoritative DNS server on loopback, "the internet" for tests
 * and the benchmark: it answers from a fixed record set over DNS over TLS
 * and DNS over HTTPS, counts every query it sees, and can be told to fail
 * (SERVFAIL, hang, refuse connections) or to answer slowly, so fail-over,
 * caching and serve-stale can be checked against real sockets.
 */
import {
  createSecureServer,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import {
  createServer as createTlsServer,
  type TLSSocket,
  type Server as TlsServer,
} from 'node:tls';
import { type Answer, AUTHORITATIVE_ANSWER, decode, encode, type Question } from 'dns-packet';

export interface AuthorityRecord {
  name: string;
  type: string;
  ttl: number;
  /** dns-packet answer data: `'192.0.2.1'` for A, `{ preference, exchange }` for MX, … */
  data: unknown;
}

export type AuthorityMode = 'normal' | 'servfail' | 'hang' | 'refuse-connections';

export interface SeenQuery {
  /** Lower case, no trailing dot (`.` for the root). */
  name: string;
  type: string;
  transport: 'dot' | 'doh';
}

export interface TestAuthority {
  /** `tls://127.0.0.1:<port>` */
  dotUrl: string;
  /** `https://127.0.0.1:<port>/dns-query` */
  dohUrl: string;
  /** Every readable query received, in arrival order (failure modes included). */
  queries: SeenQuery[];
  /**
   * normal: answer from the records; servfail: answer SERVFAIL; hang: read
   * queries and never answer; refuse-connections: drop every connection
   * (setting it also drops the open ones).
   */
  mode: AuthorityMode;
  /** Wait this long before each answer. */
  delayMs: number;
  /** TCP connections accepted (and not refused), per transport. */
  readonly connections: { dot: number; doh: number };
  setRecords(records: AuthorityRecord[]): void;
  /** Closes every open connection (the server keeps listening), as a server restart would. */
  dropConnections(): void;
  close(): Promise<void>;
}

export interface TestAuthorityOptions {
  records: AuthorityRecord[];
  /** PEM certificate (chain) and key the servers present. */
  tls: { cert: string; key: string };
  /** Address to listen on, default 127.0.0.1. */
  host?: string;
}

/** Negative answers carry this SOA: TTL 60, minimum 30, so they are cached for 30 s (RFC 2308 §5). */
export const NEGATIVE_TTL = 30;
const SOA_TTL = 60;
const MAX_MESSAGE = 65_535;
const DNS_MESSAGE = 'application/dns-message';
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
const RD = 0x0100;
/** CNAME hops followed before giving up (a loop in the test data must not hang the server). */
const MAX_CHAIN = 8;

export async function startTestAuthority(options: TestAuthorityOptions): Promise<TestAuthority> {
  const authority = new Authority(options);
  await authority.listen(options.host ?? '127.0.0.1');
  return authority;
}

/** What to do with one received message. */
type Outcome =
  | { kind: 'answer'; message: Buffer; maxAge: number }
  | { kind: 'malformed'; formerr: Buffer | null }
  | { kind: 'hang' };

class Authority implements TestAuthority {
  dotUrl = '';
  dohUrl = '';
  readonly queries: SeenQuery[] = [];
  delayMs = 0;
  readonly connections = { dot: 0, doh: 0 };
  #mode: AuthorityMode = 'normal';
  #records = new Map<string, AuthorityRecord[]>();
  readonly #dot: TlsServer;
  readonly #doh: Http2SecureServer;
  /** Raw TCP sockets of both servers: destroying one ends its TLS connection or HTTP/2 session. */
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(options: TestAuthorityOptions) {
    this.setRecords(options.records);
    const tls = { ...options.tls, minVersion: 'TLSv1.3' as const };
    this.#dot = createTlsServer(tls, (socket) => this.#serveDot(socket));
    this.#dot.on('connection', (socket: Socket) => this.#accept(socket, 'dot'));
    this.#dot.on('tlsClientError', () => {});
    this.#doh = createSecureServer({ ...tls, allowHTTP1: false });
    this.#doh.on('connection', (socket: Socket) => this.#accept(socket, 'doh'));
    this.#doh.on('session', (session) => session.on('error', () => {}));
    this.#doh.on('sessionError', () => {});
    this.#doh.on('tlsClientError', () => {});
    this.#doh.on('stream', (stream, headers) => this.#serveDoh(stream, headers));
  }

  get mode(): AuthorityMode {
    return this.#mode;
  }

  set mode(mode: AuthorityMode) {
    this.#mode = mode;
    if (mode === 'refuse-connections') this.dropConnections();
  }

  setRecords(records: AuthorityRecord[]): void {
    const byName = new Map<string, AuthorityRecord[]>();
    for (const record of records) {
      const name = ownerName(record.name);
      const list = byName.get(name) ?? [];
      list.push({ ...record, name, type: record.type.toUpperCase() });
      byName.set(name, list);
    }
    this.#records = byName;
  }

  dropConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  async listen(host: string): Promise<void> {
    const listen = (server: TlsServer | Http2SecureServer) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
      });
    const [dotPort, dohPort] = await Promise.all([listen(this.#dot), listen(this.#doh)]);
    const where = host.includes(':') ? `[${host}]` : host;
    this.dotUrl = `tls://${where}:${dotPort}`;
    this.dohUrl = `https://${where}:${dohPort}/dns-query`;
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const closed = (server: TlsServer | Http2SecureServer) =>
      new Promise<void>((resolve) => server.close(() => resolve()));
    const done = Promise.all([closed(this.#dot), closed(this.#doh)]);
    this.dropConnections();
    await done;
  }

  #accept(socket: Socket, transport: 'dot' | 'doh'): void {
    if (this.#mode === 'refuse-connections') {
      socket.destroy();
      return;
    }
    this.connections[transport] += 1;
    this.#sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => this.#sockets.delete(socket));
  }

  /** DoT: 2-octet length framing; queries are answered as they complete, so possibly out of order. */
  #serveDot(socket: TLSSocket): void {
    socket.on('error', () => {});
    let received: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      while (received.length >= 2) {
        const length = received.readUInt16BE(0);
        if (received.length < 2 + length) break;
        const message = Buffer.from(received.subarray(2, 2 + length));
        received = received.subarray(2 + length);
        void this.#handle(message, 'dot').then((outcome) => {
          const reply =
            outcome.kind === 'answer'
              ? outcome.message
              : outcome.kind === 'malformed'
                ? outcome.formerr
                : undefined;
          if (reply === null) socket.destroy();
          else if (reply !== undefined && socket.writable) socket.write(frame(reply));
        });
      }
    });
  }

  /** DoH (RFC 8484): POST with an application/dns-message body, or GET with ?dns=<base64url>. */
  #serveDoh(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => {});
    const refuse = (status: number) => {
      if (!stream.closed && !stream.headersSent) {
        stream.respond({ ':status': status }, { endStream: true });
      }
    };
    void dohQuery(stream, headers).then(async (query) => {
      if (typeof query === 'number') return refuse(query);
      const outcome = await this.#handle(query, 'doh');
      if (outcome.kind === 'malformed') return refuse(400);
      if (outcome.kind === 'hang' || stream.closed) return;
      stream.respond({
        ':status': 200,
        'content-type': DNS_MESSAGE,
        'content-length': outcome.message.length,
        'cache-control': `max-age=${outcome.maxAge}`,
      });
      stream.end(outcome.message);
    });
  }

  /** Reads, counts and answers one query according to the mode and delay in force when it arrived. */
  async #handle(message: Buffer, transport: 'dot' | 'doh'): Promise<Outcome> {
    let question: Question | undefined;
    let opcode = 0;
    let hasOpt = false;
    try {
      const query = decode(message);
      opcode = (message.readUInt16BE(2) >> 11) & 0x0f;
      hasOpt = (query.additionals ?? []).some((rr) => rr.type === 'OPT');
      if (query.type === 'query' && query.questions?.length === 1) question = query.questions[0];
    } catch {
      // Unreadable: handled below like any other malformed message.
    }
    if (question === undefined) {
      return {
        kind: 'malformed',
        formerr: message.length >= 12 ? headerOnly(message, RCODE.FORMERR) : null,
      };
    }
    this.queries.push({ name: ownerName(question.name), type: question.type, transport });
    const mode = this.#mode;
    if (mode === 'hang') return { kind: 'hang' };
    if (this.delayMs > 0) await this.#sleep(this.delayMs);
    if (opcode !== 0)
      return { kind: 'answer', message: headerOnly(message, RCODE.NOTIMP), maxAge: 0 };

    const id = message.readUInt16BE(0);
    const flags = AUTHORITATIVE_ANSWER | (message.readUInt16BE(2) & RD);
    const additionals: Answer[] = hasOpt
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: 1232,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: 0,
            flag_do: false,
            options: [],
          },
        ]
      : [];
    if (mode === 'servfail') {
      const answer = encode({
        id,
        type: 'response',
        flags: flags | RCODE.SERVFAIL,
        questions: [question],
        additionals,
      });
      return { kind: 'answer', message: answer, maxAge: 0 };
    }
    const { rcode, answers, negative } = this.#lookup(question);
    const authorities: Answer[] = negative ? [soaFor(question.name)] : [];
    const maxAge = negative
      ? NEGATIVE_TTL
      : Math.min(...answers.map((a) => ('ttl' in a ? (a.ttl ?? 0) : 0)));
    const answer = encode({
      id,
      type: 'response',
      flags: flags | rcode,
      questions: [question],
      answers,
      authorities,
      additionals,
    });
    return { kind: 'answer', message: answer, maxAge };
  }

  /** The records for the question, following CNAMEs held here (RFC 1034 §4.3.2). */
  #lookup(question: Question): { rcode: number; answers: Answer[]; negative: boolean } {
    const answers: Answer[] = [];
    let name = ownerName(question.name);
    for (let hop = 0; hop < MAX_CHAIN; hop++) {
      const records = this.#records.get(name);
      if (records === undefined) {
        // The root always exists (the pool's health probe asks `NS .`).
        const exists = name === '.';
        return { rcode: exists ? RCODE.NOERROR : RCODE.NXDOMAIN, answers, negative: true };
      }
      const type: string = question.type;
      const wanted = records.filter((r) => r.type === type || type === 'ANY');
      if (wanted.length > 0)
        return {
          rcode: RCODE.NOERROR,
          answers: [...answers, ...wanted.map(toAnswer)],
          negative: false,
        };
      const cname = records.find((r) => r.type === 'CNAME');
      if (cname === undefined || question.type === 'CNAME') break;
      answers.push(toAnswer(cname));
      name = ownerName(String(cname.data));
    }
    return { rcode: RCODE.NOERROR, answers, negative: true };
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.add(timer);
    });
  }
}

function ownerName(name: string): string {
  if (name === '.' || name === '') return '.';
  return name.replace(/\.$/, '').toLowerCase();
}

function toAnswer(record: AuthorityRecord): Answer {
  return {
    name: record.name,
    type: record.type,
    ttl: record.ttl,
    class: 'IN',
    data: record.data,
  } as Answer;
}

/** The SOA that makes a negative answer cacheable, owned by the name's top-level label. */
function soaFor(name: string): Answer {
  const labels = ownerName(name).split('.');
  const apex = labels[labels.length - 1] ?? '.';
  return {
    name: apex,
    type: 'SOA',
    ttl: SOA_TTL,
    class: 'IN',
    data: {
      mname: 'ns.authority.test',
      rname: 'hostmaster.authority.test',
      serial: 1,
      refresh: 3600,
      retry: 600,
      expire: 86400,
      minimum: NEGATIVE_TTL,
    },
  };
}

/** A header-only response (FORMERR, NOTIMP) to a message we will not answer properly. */
function headerOnly(query: Buffer, rcode: number): Buffer {
  const reply = Buffer.alloc(12);
  query.copy(reply, 0, 0, 2);
  const opcode = (query.readUInt16BE(2) >> 11) & 0x0f;
  reply.writeUInt16BE(0x8000 | (opcode << 11) | rcode, 2);
  return reply;
}

/** The DNS query a DoH request carries, or the HTTP status that refuses it. */
function dohQuery(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
): Promise<Buffer | number> {
  const url = new URL(headers[':path'] ?? '/', 'https://authority.test');
  if (url.pathname !== '/dns-query') return Promise.resolve(404);
  if (headers[':method'] === 'GET') {
    const dns = url.searchParams.get('dns');
    if (dns === null || !/^[A-Za-z0-9_-]+$/.test(dns)) return Promise.resolve(400);
    return Promise.resolve(Buffer.from(dns, 'base64url'));
  }
  if (headers[':method'] !== 'POST') return Promise.resolve(405);
  if (headers['content-type'] !== DNS_MESSAGE) return Promise.resolve(415);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_MESSAGE) chunks.push(chunk);
      else resolve(413);
    });
    stream.on('end', () => resolve(size <= MAX_MESSAGE ? Buffer.concat(chunks) : 413));
  });
}

function frame(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(2 + message.length);
  framed.writeUInt16BE(message.length, 0);
  message.copy(framed, 2);
  return framed;
}

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import {
  createSecureServer,
  type Http2SecureServer,
  connect as http2Connect,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createServer as createTlsServer,
  type TLSSocket,
  type Server as TlsServer,
  connect as tlsConnect,
} from 'node:tls';
import { type DecodedPacket, decode, encode, type RecordType } from 'dns-packet';
import { makeTestPki, type TestPki } from '../../../../test/support/pki.ts';
import {
  type AuthorityRecord,
  startTestAuthority,
  type TestAuthority,
} from '../testing/authority.ts';
import { createDotUpstream } from './dot.ts';
import { UpstreamError, UpstreamPool } from './pool.ts';
import { spkiPin, tlsClientOptions } from './transport.ts';
import { createUpstream, type Upstream, type UpstreamConfig } from './upstream.ts';
import { checkQuery, responseMismatch } from './wire.ts';

const RECORDS: AuthorityRecord[] = [
  { name: 'www.example.com', type: 'A', ttl: 300, data: '192.0.2.1' },
  { name: 'www.example.com', type: 'AAAA', ttl: 300, data: '2001:db8::1' },
  { name: 'alias.example.com', type: 'CNAME', ttl: 120, data: 'www.example.com' },
];

let dir: string;
let pki: TestPki;
let stranger: TestPki;
let serverTls: { cert: string; key: string };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bulwark-upstream-'));
  [pki, stranger] = await Promise.all([
    makeTestPki(join(dir, 'trusted'), 'upstream test CA'),
    makeTestPki(join(dir, 'stranger'), 'some other CA'),
  ]);
  serverTls = {
    cert: readFileSync(pki.serverCertFile, 'utf8'),
    key: readFileSync(pki.serverKeyFile, 'utf8'),
  };
});
after(() => rmSync(dir, { recursive: true, force: true }));

function query(name: string, type: RecordType = 'A', id = 0xbeef): Uint8Array {
  return encode({ type: 'query', id, flags: 0x0100, questions: [{ type, name }] });
}

function upstreamFor(t: TestContext, config: UpstreamConfig): Upstream {
  const upstream = createUpstream({ caFile: pki.caFile, ...config });
  t.after(() => upstream.close());
  return upstream;
}

/** dns-packet decodes `rcode` but its types leave it out. */
type Decoded = DecodedPacket & { rcode: string };

async function ask(
  upstream: Upstream,
  name: string,
  type: RecordType = 'A',
  id = 0xbeef,
): Promise<Decoded> {
  const response = await upstream.exchange(query(name, type, id), AbortSignal.timeout(3000));
  return decode(Buffer.from(response)) as Decoded;
}

async function authority(t: TestContext, records = RECORDS): Promise<TestAuthority> {
  const server = await startTestAuthority({ records, tls: serverTls });
  t.after(() => server.close());
  return server;
}

const answersOf = (p: DecodedPacket) =>
  (p.answers ?? []).map((a) => `${a.type} ${JSON.stringify('data' in a ? a.data : null)}`);

async function until(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// Hand-written servers that misbehave in ways the test authority does not.

function framed(message: Uint8Array): Buffer {
  const out = Buffer.alloc(2 + message.length);
  out.writeUInt16BE(message.length, 0);
  out.set(message, 2);
  return out;
}

/** A DoT server whose `onQuery` decides what bytes go back for each framed query. */
async function rawDot(
  t: TestContext,
  onQuery: (message: Buffer, socket: TLSSocket) => void,
  tls: object = { minVersion: 'TLSv1.3' },
): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<TLSSocket>();
  const server: TlsServer = createTlsServer({ ...serverTls, ...tls }, (socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        const message = buffer.subarray(2, 2 + buffer.readUInt16BE(0));
        buffer = buffer.subarray(2 + message.length);
        onQuery(Buffer.from(message), socket);
      }
    });
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `tls://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
  };
}

/** A DoH server whose handler answers each POST body as it likes. */
async function rawDoh(
  t: TestContext,
  onQuery: (body: Buffer, stream: ServerHttp2Stream) => void,
  tls: object = { minVersion: 'TLSv1.3' },
): Promise<string> {
  const server: Http2SecureServer = createSecureServer({ ...serverTls, ...tls });
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('error', () => {});
    session.once('close', () => sessions.delete(session));
  });
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => onQuery(Buffer.concat(chunks), stream));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    for (const session of sessions) session.destroy();
    await closed;
  });
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}/dns-query`;
}

/** An answer to `message` with one A record, built by hand. */
function answerTo(message: Buffer, name?: string, address = '198.51.100.7'): Uint8Array {
  const q = decode(message);
  const question = q.questions?.[0];
  assert.ok(question);
  return encode({
    id: q.id ?? 0,
    type: 'response',
    flags: 0x0100,
    questions: [{ ...question, name: name ?? question.name }],
    answers: [{ name: name ?? question.name, type: 'A', ttl: 60, data: address }],
  });
}

describe('upstream configuration', () => {
  it('refuses plaintext and malformed URLs with a clear error', () => {
    for (const url of [
      'udp://192.0.2.1',
      'dns://192.0.2.1:53',
      'http://dns.example/dns-query',
      'tcp://192.0.2.1:53',
      '192.0.2.1',
      'not a url',
    ]) {
      assert.throws(
        () => createUpstream({ url }),
        /upstreams must be tls:\/\/ or https:\/\/: plaintext DNS never leaves the organisation/,
        url,
      );
    }
  });

  it('names upstreams by scheme, host and port; refuses paths on tls:// and bad pins', async () => {
    const dot = createUpstream({ url: 'tls://DNS.Example' });
    assert.equal(dot.id, 'tls://dns.example:853');
    const doh = createUpstream({ url: 'https://dns.example/dns-query' });
    assert.equal(doh.id, 'https://dns.example/dns-query');
    await Promise.all([dot.close(), doh.close()]);
    assert.throws(() => createUpstream({ url: 'tls://dns.example/path' }), /host and port only/);
    assert.throws(
      () => createUpstream({ url: 'tls://a:b@dns.example' }),
      /no user name or password/,
    );
    assert.throws(
      () => createUpstream({ url: 'tls://dns.example', spkiPins: ['abc'] }),
      /SPKI pin/,
    );
    assert.throws(
      () => createUpstream({ url: 'tls://dns.example', caFile: join(dir, 'missing.pem') }),
      /CA file .* cannot be read/,
    );
  });
});

describe('DNS message checks', () => {
  it('accepts an answer to the same question in any letter case, nothing else', () => {
    const q = query('www.example.com');
    const sameInOtherCase = answerTo(Buffer.from(query('WWW.Example.COM')));
    assert.equal(responseMismatch(q, sameInOtherCase), null);
    assert.match(
      responseMismatch(q, answerTo(Buffer.from(q), 'evil.example.net')) ?? '',
      /another question/,
    );
    assert.match(responseMismatch(q, query('www.example.com', 'AAAA')) ?? '', /QR clear/);
    assert.match(
      responseMismatch(q, answerTo(Buffer.from(query('www.example.com', 'A', 1)))) ?? '',
      /message id/,
    );
    assert.match(responseMismatch(q, new Uint8Array(5)) ?? '', /shorter/);
    assert.throws(() => checkQuery(new Uint8Array(11)), /12 to 65535/);
    assert.throws(() => checkQuery(answerTo(Buffer.from(q))), /QR is set/);
  });
});

for (const transport of ['dot', 'doh'] as const) {
  describe(`${transport === 'dot' ? 'DNS over TLS' : 'DNS over HTTPS'} upstream`, () => {
    const urlOf = (a: TestAuthority) => (transport === 'dot' ? a.dotUrl : a.dohUrl);

    it('answers A, AAAA, CNAME chains and NXDOMAIN with the caller’s id', async (t) => {
      const auth = await authority(t);
      const upstream = upstreamFor(t, { url: urlOf(auth) });

      const a = await ask(upstream, 'www.example.com', 'A', 0x1234);
      assert.equal(a.id, 0x1234);
      assert.equal(a.rcode, 'NOERROR');
      assert.deepEqual(answersOf(a), ['A "192.0.2.1"']);

      const aaaa = await ask(upstream, 'www.example.com', 'AAAA', 7);
      assert.equal(aaaa.id, 7);
      assert.deepEqual(answersOf(aaaa), ['AAAA "2001:db8::1"']);

      const chain = await ask(upstream, 'alias.example.com', 'A', 0);
      assert.deepEqual(answersOf(chain), ['CNAME "www.example.com"', 'A "192.0.2.1"']);

      const nx = await ask(upstream, 'nope.example.com', 'A', 0xffff);
      assert.equal(nx.id, 0xffff);
      assert.equal(nx.rcode, 'NXDOMAIN');
      assert.equal(nx.authorities?.[0]?.type, 'SOA');

      const nodata = await ask(upstream, 'www.example.com', 'MX');
      assert.equal(nodata.rcode, 'NOERROR');
      assert.equal(nodata.answers?.length, 0);
      assert.equal(nodata.authorities?.[0]?.type, 'SOA');

      assert.deepEqual(
        auth.queries.map((q) => `${q.transport} ${q.name} ${q.type}`),
        [
          'www.example.com A',
          'www.example.com AAAA',
          'alias.example.com A',
          'nope.example.com A',
          'www.example.com MX',
        ].map((q) => `${transport} ${q}`),
      );
      assert.equal(auth.connections[transport], 1, 'one connection carries every query');
    });

    it('leaves the caller’s query bytes untouched', async (t) => {
      const auth = await authority(t);
      const upstream = upstreamFor(t, { url: urlOf(auth) });
      const q = query('www.example.com', 'A', 0x4242);
      const copy = Buffer.from(q);
      await upstream.exchange(q, AbortSignal.timeout(3000));
      assert.deepEqual(Buffer.from(q), copy);
    });

    it('sends many concurrent queries over one connection, each answer to its caller', async (t) => {
      const auth = await authority(
        t,
        Array.from({ length: 200 }, (_, i) => ({
          name: `n${i}.example`,
          type: 'A',
          ttl: 60,
          data: `10.0.${i >> 8}.${i & 255}`,
        })),
      );
      const upstream = upstreamFor(t, { url: urlOf(auth) });
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          ask(upstream, `n${i}.example`, 'A', (i * 7919) & 0xffff),
        ),
      );
      results.forEach((r, i) => {
        assert.equal(r.id, (i * 7919) & 0xffff);
        assert.equal(r.questions?.[0]?.name, `n${i}.example`);
        assert.deepEqual(answersOf(r), [`A "10.0.${i >> 8}.${i & 255}"`]);
      });
      assert.equal(auth.connections[transport], 1);
    });

    it('refuses a certificate for another name, from an unknown CA, or off its pins', async (t) => {
      const auth = await authority(t);
      const refused = async (config: Partial<UpstreamConfig>, pattern: RegExp) => {
        const upstream = upstreamFor(t, { url: urlOf(auth), ...config });
        await assert.rejects(ask(upstream, 'www.example.com'), pattern);
      };
      await refused({ serverName: 'dns.other.example' }, /does not match certificate/);
      await refused({ caFile: stranger.caFile }, /self[- ]signed|unable to (get|verify)/i);
      await refused(
        { spkiPins: [spkiPin(new X509Certificate(readFileSync(stranger.caFile)))] },
        /SPKI pins/,
      );
      assert.equal(auth.queries.length, 0, 'no query left on an unverified connection');

      // The right name, CA or pin (leaf or CA) works.
      const leafPin = spkiPin(new X509Certificate(readFileSync(pki.serverCertFile)));
      const caPin = spkiPin(new X509Certificate(readFileSync(pki.caFile)));
      for (const config of [
        { serverName: 'localhost' },
        { spkiPins: [leafPin] },
        { spkiPins: [`${'A'.repeat(43)}=`, caPin] },
      ]) {
        const upstream = upstreamFor(t, { url: urlOf(auth), ...config });
        assert.equal((await ask(upstream, 'www.example.com')).rcode, 'NOERROR');
      }
    });

    it('refuses a server that only speaks TLS 1.2', async (t) => {
      const tls12 = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' };
      let seen = 0;
      const url =
        transport === 'dot'
          ? (await rawDot(t, () => void seen++, tls12)).url
          : await rawDoh(t, () => void seen++, tls12);
      const upstream = upstreamFor(t, { url });
      await assert.rejects(
        ask(upstream, 'www.example.com'),
        /protocol version|unsupported protocol|wrong version/i,
      );
      assert.equal(seen, 0);
    });

    it('reconnects after the server drops the connection, retrying what was in flight', async (t) => {
      const auth = await authority(t);
      const upstream = upstreamFor(t, { url: urlOf(auth) });
      assert.equal((await ask(upstream, 'www.example.com')).rcode, 'NOERROR');

      auth.dropConnections();
      await sleep(50);
      assert.equal((await ask(upstream, 'www.example.com')).rcode, 'NOERROR');
      assert.equal(auth.connections[transport], 2);

      // Dropped while the server sits on the query: the query is sent again on a new connection.
      auth.delayMs = 300;
      const pending = ask(upstream, 'alias.example.com');
      await until(
        () => auth.queries.some((q) => q.name === 'alias.example.com'),
        'the query to arrive',
      );
      auth.dropConnections();
      const answer = await pending;
      assert.deepEqual(answersOf(answer), ['CNAME "www.example.com"', 'A "192.0.2.1"']);
      assert.equal(auth.queries.filter((q) => q.name === 'alias.example.com').length, 2);
      assert.equal(auth.connections[transport], 3);
    });

    it('fails fast when the server refuses connections, and gives up a query on abort', async (t) => {
      const auth = await authority(t);
      const upstream = upstreamFor(t, { url: urlOf(auth) });
      auth.mode = 'refuse-connections';
      const started = Date.now();
      await assert.rejects(ask(upstream, 'www.example.com'));
      assert.ok(Date.now() - started < 1000);

      auth.mode = 'hang';
      const controller = new AbortController();
      const pending = upstream.exchange(query('www.example.com'), controller.signal);
      await until(() => auth.queries.length === 1, 'the query to arrive');
      controller.abort(new Error('caller gave up'));
      await assert.rejects(pending, /caller gave up/);
    });
  });
}

describe('DNS over TLS framing', () => {
  it('matches answers that come back in reverse order to their callers', async (t) => {
    const held: { message: Buffer; socket: TLSSocket }[] = [];
    const wireIds = new Set<number>();
    const server = await rawDot(t, (message, socket) => {
      wireIds.add(message.readUInt16BE(0));
      held.push({ message, socket });
      if (held.length < 50) return;
      // Reversed, and every frame split across two writes to exercise partial reads.
      for (const { message: m, socket: s } of held.reverse()) {
        const index = /^q(\d+)\./.exec(decode(m).questions?.[0]?.name ?? '')?.[1];
        const frame = framed(answerTo(m, undefined, `10.1.0.${index}`));
        s.write(frame.subarray(0, 3));
        s.write(frame.subarray(3));
      }
    });
    const upstream = upstreamFor(t, { url: server.url });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => ask(upstream, `q${i}.example`, 'A', 1000 + i)),
    );
    results.forEach((r, i) => {
      assert.equal(r.id, 1000 + i);
      assert.deepEqual(answersOf(r), [`A "10.1.0.${i}"`]);
    });
    assert.equal(wireIds.size, 50, 'each query in flight had its own id on the wire');
    assert.equal(server.connections(), 1);
  });

  it('treats an answer to another question as a failure', async (t) => {
    const server = await rawDot(t, (message, socket) =>
      socket.write(framed(answerTo(message, 'evil.example.net'))),
    );
    const upstream = upstreamFor(t, { url: server.url });
    await assert.rejects(ask(upstream, 'www.example.com'), /another question/);
  });

  it('kills the connection on a malformed frame, failing every query on it', async (t) => {
    const server = await rawDot(t, (message, socket) => {
      if (decode(message).questions?.[0]?.name === 'bad.example')
        socket.write(framed(Buffer.from('junk')));
    });
    const upstream = upstreamFor(t, { url: server.url });
    const waiting = ask(upstream, 'waits.example');
    await sleep(50);
    await assert.rejects(ask(upstream, 'bad.example'), /malformed frame/);
    await assert.rejects(waiting, /malformed frame/);
    // The next query gets a fresh connection.
    const next = ask(upstream, 'after.example').catch(() => null);
    await until(() => server.connections() === 2, 'a new connection');
    await upstream.close();
    assert.equal(await next, null);
  });

  it('closes an idle connection and opens a new one when needed', async (t) => {
    const auth = await authority(t);
    const port = Number(new URL(auth.dotUrl).port);
    const upstream = createDotUpstream({
      id: auth.dotUrl,
      url: auth.dotUrl,
      host: '127.0.0.1',
      port,
      tls: tlsClientOptions({ serverName: '127.0.0.1', ca: readFileSync(pki.caFile, 'utf8') }),
      idleMs: 100,
    });
    t.after(() => upstream.close());
    await ask(upstream, 'www.example.com');
    await ask(upstream, 'www.example.com');
    assert.equal(auth.connections.dot, 1);
    await sleep(300);
    await ask(upstream, 'www.example.com');
    assert.equal(auth.connections.dot, 2);
  });
});

describe('DNS over HTTPS answers', () => {
  const cases: [string, (body: Buffer, stream: ServerHttp2Stream) => void, RegExp][] = [
    [
      'a non-200 status',
      (_b, s) => s.respond({ ':status': 500 }, { endStream: true }),
      /HTTP status 500/,
    ],
    [
      'a wrong content type',
      (b, s) => {
        s.respond({ ':status': 200, 'content-type': 'text/html' });
        s.end(answerTo(b));
      },
      /content-type text\/html/,
    ],
    [
      'a body over 65535 octets',
      (_b, s) => {
        s.respond({ ':status': 200, 'content-type': 'application/dns-message' });
        s.end(Buffer.alloc(70_000));
      },
      /larger than 65535/,
    ],
    [
      'an answer to another question',
      (b, s) => {
        s.respond({ ':status': 200, 'content-type': 'application/dns-message' });
        s.end(answerTo(b, 'evil.example.net'));
      },
      /another question/,
    ],
    [
      'garbage',
      (_b, s) => {
        s.respond({ ':status': 200, 'content-type': 'application/dns-message' });
        s.end(Buffer.from('<html>hello</html>'));
      },
      /not a DNS response|another/,
    ],
  ];
  for (const [what, handler, pattern] of cases) {
    it(`refuses ${what}`, async (t) => {
      const upstream = upstreamFor(t, { url: await rawDoh(t, handler) });
      await assert.rejects(ask(upstream, 'www.example.com'), pattern);
    });
  }

  it('sends id 0 on the wire (RFC 8484 §4.1) and restores the caller’s', async (t) => {
    const ids: number[] = [];
    const url = await rawDoh(t, (body, stream) => {
      ids.push(body.readUInt16BE(0));
      stream.respond({ ':status': 200, 'content-type': 'application/dns-message' });
      stream.end(answerTo(body));
    });
    const upstream = upstreamFor(t, { url });
    const answer = await ask(upstream, 'www.example.com', 'A', 0x5151);
    assert.deepEqual(ids, [0]);
    assert.equal(answer.id, 0x5151);
  });
});

describe('upstream pool', () => {
  const pool = (
    t: TestContext,
    urls: string[],
    options: Partial<{ timeoutMs: number; healthIntervalMs: number }> = {},
  ) => {
    const p = new UpstreamPool({
      upstreams: urls.map((url) => createUpstream({ url, caFile: pki.caFile })),
      ...options,
    });
    t.after(() => p.close());
    return p;
  };
  const askPool = async (p: UpstreamPool, name = 'www.example.com') => {
    const { response, upstream } = await p.exchange(query(name));
    return { answer: decode(Buffer.from(response)) as Decoded, upstream };
  };

  for (const mode of ['hang', 'servfail', 'refuse-connections'] as const) {
    it(`falls over to the next upstream when the first ${mode === 'hang' ? 'hangs' : mode === 'servfail' ? 'answers SERVFAIL' : 'refuses connections'}`, async (t) => {
      const [first, second] = await Promise.all([authority(t), authority(t)]);
      first.mode = mode;
      const p = pool(t, [first.dotUrl, second.dohUrl], { timeoutMs: 400 });
      const started = Date.now();
      const { answer, upstream } = await askPool(p);
      const took = Date.now() - started;
      assert.equal(upstream, second.dohUrl);
      assert.deepEqual(answersOf(answer), ['A "192.0.2.1"']);
      if (mode === 'hang') assert.ok(took >= 390 && took < 800, `took ${took} ms`);
      else assert.ok(took < 400, `took ${took} ms`);
      assert.equal(p.status()[0]?.consecutiveFailures, 1);
    });
  }

  it('falls over when the first upstream answers another question', async (t) => {
    const liar = await rawDot(t, (message, socket) =>
      socket.write(framed(answerTo(message, 'evil.example.net'))),
    );
    const honest = await authority(t);
    const p = pool(t, [liar.url, honest.dotUrl]);
    const { answer, upstream } = await askPool(p);
    assert.equal(upstream, honest.dotUrl);
    assert.equal(answer.questions?.[0]?.name, 'www.example.com');
    assert.match(p.status()[0]?.lastError ?? '', /another question/);
  });

  it('is not stalled by an upstream that never settles, even ignoring its signal', async (t) => {
    const honest = await authority(t);
    const stuck: Upstream = {
      id: 'stuck',
      url: 'stuck',
      exchange: () => new Promise(() => {}),
      close: async () => {},
    };
    const p = new UpstreamPool({
      upstreams: [stuck, createUpstream({ url: honest.dotUrl, caFile: pki.caFile })],
      timeoutMs: 200,
    });
    t.after(() => p.close());
    const started = Date.now();
    const { upstream } = await p.exchange(query('www.example.com'));
    assert.equal(upstream, honest.dotUrl);
    assert.ok(Date.now() - started < 400 + 100);
  });

  it('bounds the whole call by twice the timeout and reports every failure', async (t) => {
    const servers = await Promise.all([authority(t), authority(t), authority(t)]);
    for (const s of servers) s.mode = 'hang';
    const p = pool(
      t,
      servers.map((s) => s.dotUrl),
      { timeoutMs: 200 },
    );
    const started = Date.now();
    const error = await p.exchange(query('www.example.com')).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    const took = Date.now() - started;
    assert.ok(error instanceof UpstreamError);
    assert.equal(error.code, 'upstream_failed');
    assert.equal(error.attempts.length, 2, 'the third had no time left');
    assert.ok(took >= 390 && took < 600, `took ${took} ms`);
    assert.equal(servers[2]?.queries.length, 0);
  });

  it('marks an upstream unhealthy after 3 failures, asks it last, and probes it back', async (t) => {
    const [flaky, steady] = await Promise.all([authority(t), authority(t)]);
    const warnings: string[] = [];
    const infos: string[] = [];
    const p = new UpstreamPool({
      upstreams: [flaky.dotUrl, steady.dotUrl].map((url) =>
        createUpstream({ url, caFile: pki.caFile }),
      ),
      timeoutMs: 500,
      healthIntervalMs: 50,
      logger: { warn: (_f, msg) => warnings.push(msg), info: (_f, msg) => infos.push(msg) },
    });
    t.after(() => p.close());

    // The flaky one is asked first each time (it has no latency yet, and
    // SERVFAIL adds no sample) and the steady one answers.
    flaky.mode = 'servfail';
    for (let i = 0; i < 3; i++) {
      assert.equal((await askPool(p)).upstream, steady.dotUrl);
      assert.equal(flaky.queries.length, i + 1);
      assert.equal(p.status()[0]?.healthy, i < 2);
    }
    const flakyStatus = p.status()[0];
    assert.equal(flakyStatus?.healthy, false);
    assert.equal(flakyStatus?.consecutiveFailures, 3);
    assert.match(flakyStatus?.lastError ?? '', /SERVFAIL/);
    assert.deepEqual(warnings, ['DNS upstream marked unhealthy']);

    // Unhealthy: the healthy one is asked first, the flaky one not at all.
    const seen = flaky.queries.length;
    assert.equal((await askPool(p)).upstream, steady.dotUrl);
    assert.equal(flaky.queries.length, seen);

    // When it answers again the probe notices.
    flaky.mode = 'normal';
    p.start();
    await until(() => p.status()[0]?.healthy === true, 'the probe to succeed');
    assert.ok(
      flaky.queries.some((q) => q.name === '.' && q.type === 'NS'),
      'probed with NS .',
    );
    assert.deepEqual(infos, ['DNS upstream answers again']);
    assert.equal(p.status()[0]?.consecutiveFailures, 0);
  });

  it('still tries every upstream, best first, when none is healthy', async (t) => {
    const [a, b] = await Promise.all([authority(t), authority(t)]);
    a.mode = 'servfail';
    b.mode = 'servfail';
    const p = pool(t, [a.dotUrl, b.dohUrl]);
    for (let i = 0; i < 3; i++)
      await assert.rejects(p.exchange(query('www.example.com')), UpstreamError);
    assert.deepEqual(
      p.status().map((s) => s.healthy),
      [false, false],
    );
    b.mode = 'normal';
    const { upstream } = await askPool(p);
    assert.equal(upstream, b.dohUrl);
    assert.equal(p.status()[1]?.healthy, true);
    assert.equal(a.queries.length, 4);
  });

  it('orders healthy upstreams by smoothed latency', async (t) => {
    const [slow, fast] = await Promise.all([authority(t), authority(t)]);
    slow.delayMs = 150;
    const p = pool(t, [slow.dotUrl, fast.dotUrl]);
    // Both are measured once (unknown latency goes first), then the fast one leads.
    await askPool(p);
    await askPool(p);
    for (let i = 0; i < 3; i++) assert.equal((await askPool(p)).upstream, fast.dotUrl);
    const [slowStatus, fastStatus] = p.status();
    assert.ok((slowStatus?.latencyMs ?? 0) > (fastStatus?.latencyMs ?? Infinity));
  });

  it('refuses a malformed query without blaming any upstream, and everything after close', async (t) => {
    const auth = await authority(t);
    const p = pool(t, [auth.dotUrl]);
    await assert.rejects(
      p.exchange(new Uint8Array(3)),
      (e: unknown) => e instanceof UpstreamError && e.attempts.length === 0,
    );
    assert.equal(p.status()[0]?.consecutiveFailures, 0);
    await p.close();
    await assert.rejects(p.exchange(query('www.example.com')), /closed/);
  });
});

describe('test authority', () => {
  it('survives garbage, truncated frames and bad DoH requests, and keeps answering', async (t) => {
    const auth = await authority(t);
    const ca = readFileSync(pki.caFile, 'utf8');

    // DoT: a short frame closes that connection; a readable header gets FORMERR; a cut-off frame is just dropped.
    const dot = async (bytes: Buffer): Promise<Buffer> => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: Number(new URL(auth.dotUrl).port),
        ca,
        servername: 'localhost',
      });
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.write(bytes);
      setTimeout(() => socket.end(), 200).unref();
      await new Promise((resolve) => socket.once('close', resolve));
      return Buffer.concat(chunks);
    };
    assert.equal((await dot(framed(Buffer.from('junk')))).length, 0);
    const formerr = await dot(
      framed(Buffer.from('\x12\x34\x00\x00\x00\x07garbage-garbage', 'latin1')),
    );
    assert.equal(formerr.length, 2 + 12, 'one 12-octet answer');
    assert.equal(formerr.readUInt16BE(0), 12);
    assert.equal(formerr.readUInt16BE(2), 0x1234);
    assert.equal((formerr[2 + 3] ?? 0) & 0x0f, 1, 'FORMERR');
    assert.equal((await dot(Buffer.from([0, 100, 1, 2, 3]))).length, 0);

    // DoH: bad requests get HTTP errors; GET ?dns= works.
    const session = http2Connect(new URL(auth.dohUrl).origin, { ca, servername: 'localhost' });
    session.on('error', () => {});
    t.after(() => session.destroy());
    const doh = (headers: Record<string, string>, body?: Uint8Array) =>
      new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const stream = session.request(headers);
        const chunks: Buffer[] = [];
        let status = 0;
        stream.on('response', (h) => {
          status = Number(h[':status']);
        });
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
        stream.on('error', reject);
        stream.end(body);
      });
    const post = {
      ':method': 'POST',
      ':path': '/dns-query',
      'content-type': 'application/dns-message',
    };
    assert.equal((await doh(post, Buffer.from('not dns'))).status, 400);
    assert.equal(
      (await doh({ ...post, 'content-type': 'text/plain' }, query('www.example.com'))).status,
      415,
    );
    assert.equal(
      (await doh({ ...post, ':path': '/elsewhere' }, query('www.example.com'))).status,
      404,
    );
    assert.equal((await doh({ ':method': 'GET', ':path': '/dns-query?dns=***' })).status, 400);
    const get = await doh({
      ':method': 'GET',
      ':path': `/dns-query?dns=${Buffer.from(query('www.example.com')).toString('base64url')}`,
    });
    assert.equal(get.status, 200);
    assert.deepEqual(answersOf(decode(get.body)), ['A "192.0.2.1"']);

    const upstream = upstreamFor(t, { url: auth.dotUrl });
    assert.equal((await ask(upstream, 'www.example.com')).rcode, 'NOERROR');
    assert.deepEqual(
      auth.queries.map((q) => `${q.transport} ${q.name}`),
      ['doh www.example.com', 'dot www.example.com'],
      'only readable queries are counted',
    );
  });
});

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { HttpGatewaySmsProvider } from './http-gateway-provider.ts';
import { SmsDeliveryError } from './provider.ts';

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A real HTTP gateway on 127.0.0.1 that records each request and answers with `respond`. */
async function gateway(
  t: TestContext,
  respond: (res: ServerResponse) => void,
): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      respond(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/sms`, received };
}

const TOKEN = 'gw-token-5f1e2d3c4b5a69788796a5b4c3d2e1f0';
const TEXT = '493817 is your Bulwark sign-in code. It expires in 5 minutes. Never share it.';
const TO = '+447700900123';

function assertSafe(err: unknown, ...needles: string[]): void {
  const shown = `${String(err)} ${(err as Error).stack ?? ''} ${JSON.stringify(err)}`;
  for (const secret of [TOKEN, '493817', TO]) assert.ok(!shown.includes(secret), `leaks ${secret}`);
  for (const needle of needles) assert.ok(shown.includes(needle), `names ${needle}: ${shown}`);
}

describe('HttpGatewaySmsProvider', () => {
  it('POSTs { to, text } as JSON with the bearer token', async (t) => {
    const gw = await gateway(t, (res) => {
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"id":"m1"}');
    });
    const provider = new HttpGatewaySmsProvider({ url: gw.url, bearerToken: TOKEN });
    assert.equal(provider.name, 'http-gateway');
    await provider.send(TO, TEXT);
    assert.equal(gw.received.length, 1);
    const [req] = gw.received;
    assert.equal(req?.method, 'POST');
    assert.equal(req?.url, '/v1/sms');
    assert.equal(req?.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(req?.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(req?.body ?? ''), { to: TO, text: TEXT });
  });

  it('a non-2xx answer is an error naming the status, not the token, number or code', async (t) => {
    const gw = await gateway(t, (res) => {
      // A gateway that echoes the request back in its error page.
      res.writeHead(500).end(`boom: token ${TOKEN} text ${TEXT}`);
    });
    const provider = new HttpGatewaySmsProvider({ url: gw.url, bearerToken: TOKEN });
    const err = await provider.send(TO, TEXT).then(
      () => assert.fail('should throw'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SmsDeliveryError);
    assert.equal(err.status, 500);
    assertSafe(err, '500');
  });

  it('gives up after the timeout', async (t) => {
    const gw = await gateway(t, () => {
      // never answers
    });
    const provider = new HttpGatewaySmsProvider({
      url: gw.url,
      bearerToken: TOKEN,
      timeoutMs: 200,
    });
    const start = performance.now();
    const err = await provider.send(TO, TEXT).then(
      () => assert.fail('should throw'),
      (e: unknown) => e,
    );
    const elapsed = performance.now() - start;
    assert.ok(err instanceof SmsDeliveryError);
    assertSafe(err, 'did not answer within 200 ms');
    assert.ok(elapsed >= 150 && elapsed < 5000, `${elapsed} ms`);
  });

  it('an unreachable gateway is an error without secrets', async () => {
    // A port that was just free: listen, note it, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const provider = new HttpGatewaySmsProvider({
      url: `http://127.0.0.1:${port}/sms`,
      bearerToken: TOKEN,
    });
    const err = await provider.send(TO, TEXT).then(
      () => assert.fail('should throw'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof SmsDeliveryError);
    assertSafe(err, 'could not be reached');
  });

  it('does not follow redirects (they could carry the token elsewhere)', async (t) => {
    const gw = await gateway(t, (res) => {
      res.writeHead(307, { location: 'http://127.0.0.1:1/elsewhere' }).end();
    });
    const provider = new HttpGatewaySmsProvider({ url: gw.url, bearerToken: TOKEN });
    await assert.rejects(provider.send(TO, TEXT), SmsDeliveryError);
    assert.equal(gw.received.length, 1);
  });

  it('uses the injected fetch', async () => {
    const calls: { url: string; init: RequestInit | undefined }[] = [];
    const fetchImpl = (async (url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: String(url), init });
      return new Response(null, { status: 204 });
    }) as typeof fetch;
    const provider = new HttpGatewaySmsProvider({
      url: 'https://sms.example.net/send',
      bearerToken: TOKEN,
      fetchImpl,
    });
    await provider.send(TO, TEXT);
    assert.equal(calls[0]?.url, 'https://sms.example.net/send');
    assert.equal(calls[0]?.init?.method, 'POST');
  });

  it('accepts https anywhere and http only on loopback', () => {
    const ok = (url: string) => new HttpGatewaySmsProvider({ url, bearerToken: TOKEN });
    ok('https://sms.example.net/send');
    ok('http://127.0.0.1:8080/send');
    ok('http://127.5.6.7/send');
    ok('http://localhost:9000/send');
    ok('http://[::1]:9000/send');
    for (const url of [
      'http://sms.example.net/send',
      'http://10.0.0.5/send',
      'http://127.0.0.1.example.net/send',
      'ftp://127.0.0.1/send',
      'https://user:pass@sms.example.net/send',
      'not a url',
    ]) {
      assert.throws(() => ok(url), TypeError, url);
    }
    assert.throws(
      () => new HttpGatewaySmsProvider({ url: 'https://sms.example.net', bearerToken: '' }),
      TypeError,
    );
    assert.throws(
      () =>
        new HttpGatewaySmsProvider({
          url: 'https://sms.example.net',
          bearerToken: TOKEN,
          timeoutMs: 0,
        }),
      TypeError,
    );
  });
});

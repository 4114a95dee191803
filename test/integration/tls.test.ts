/**
 * TLS 1.3 only, with the security headers on every answer — successful,
 * refused and not-found alike.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { connect } from 'node:tls';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

function handshake(
  port: number,
  ca: string,
  version: 'TLSv1.2' | 'TLSv1.3',
  servername = 'localhost',
) {
  return new Promise<{ ok: true; protocol: string | null } | { ok: false; error: string }>(
    (resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port,
        ca,
        servername,
        minVersion: version,
        maxVersion: version,
      });
      socket.once('secureConnect', () => {
        resolve({ ok: true, protocol: socket.getProtocol() });
        socket.end();
      });
      socket.once('error', (err) => resolve({ ok: false, error: err.message }));
    },
  );
}

/** The openssl tool, run asynchronously: the server under test lives in this process. */
function opensslClient(args: string[]) {
  return new Promise<{ status: number | null; output: string }>((resolve) => {
    const child = spawn('openssl', ['s_client', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.stdin.end();
    const timer = setTimeout(() => child.kill(), 20_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

const requiredHeaders: Record<string, RegExp> = {
  'strict-transport-security': /max-age=\d{7,}; includeSubDomains/,
  'content-security-policy': /default-src 'self'.*frame-ancestors 'none'/,
  'x-content-type-options': /^nosniff$/,
  'x-frame-options': /^DENY$/,
  'referrer-policy': /^no-referrer$/,
  'cache-control': /no-store/,
};

describe('TLS', () => {
  it('refuses a TLS 1.2 client (Node and the openssl tool) and accepts TLS 1.3', async (t) => {
    const server = await startTestServer(t, { dataDir: tempDir(t) });
    const port = portOf(server.handle.url);

    const old = await handshake(port, server.ca, 'TLSv1.2');
    assert.equal(old.ok, false, 'a TLS 1.2 handshake must fail');

    const openssl = await opensslClient([
      '-connect',
      `127.0.0.1:${port}`,
      '-tls1_2',
      '-servername',
      'localhost',
    ]);
    assert.notEqual(openssl.status, 0, `openssl -tls1_2 must fail: ${openssl.output}`);
    assert.match(openssl.output, /alert|no protocols available|handshake failure|wrong version/i);

    const modern = await handshake(port, server.ca, 'TLSv1.3');
    assert.deepEqual(modern, { ok: true, protocol: 'TLSv1.3' });

    const openssl13 = await opensslClient([
      '-connect',
      `127.0.0.1:${port}`,
      '-tls1_3',
      '-servername',
      'localhost',
      '-brief',
    ]);
    assert.match(openssl13.output, /Protocol version: TLSv1\.3/);
  });

  it('a client that does not trust the local CA is refused by its own verification', async (t) => {
    const server = await startTestServer(t, { dataDir: tempDir(t) });
    const other = await startTestServer(t, { dataDir: tempDir(t) });
    const result = await handshake(portOf(server.handle.url), other.ca, 'TLSv1.3');
    assert.equal(result.ok, false);
  });

  it('every answer carries the security headers: health, status, errors, not found', async (t) => {
    const server = await startTestServer(t, { dataDir: tempDir(t) });
    const answers = {
      health: await server.request('/health'),
      status: await server.request('/v1/sys/status'),
      sealedRefusal: await server.request('/metrics'),
      badBody: await server.request('/v1/sys/unseal', { method: 'POST', body: { nonsense: 1 } }),
      notFound: await server.request('/no/such/route'),
    };
    await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'headers test passphrase' },
    });
    const unsealedNotFound = await server.request('/no/such/route');
    assert.equal(unsealedNotFound.status, 404);
    for (const [name, answer] of Object.entries({ ...answers, unsealedNotFound })) {
      for (const [header, pattern] of Object.entries(requiredHeaders)) {
        assert.match(String(answer.headers[header] ?? ''), pattern, `${name}: ${header}`);
      }
      assert.equal(answer.headers['x-powered-by'], undefined, `${name} reveals no framework`);
    }
  });

  it('reissues the server certificate at unseal when a configured name is new', async (t) => {
    const dataDir = tempDir(t);
    const first = await startTestServer(t, { dataDir });
    await first.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'reissue test passphrase' },
    });
    await first.close();

    const env = { BULWARK_SERVER_NAMES: 'localhost,bulwark.test' };
    const second = await startTestServer(t, { dataDir, env });
    const port = portOf(second.handle.url);
    const before = await handshake(port, second.ca, 'TLSv1.3', 'bulwark.test');
    assert.equal(before.ok, false, 'sealed: the old certificate does not cover the new name');
    const unseal = await second.request('/v1/sys/unseal', {
      method: 'POST',
      body: { passphrase: 'reissue test passphrase' },
    });
    assert.equal(unseal.status, 200, unseal.body);
    const after = await handshake(port, second.ca, 'TLSv1.3', 'bulwark.test');
    assert.deepEqual(
      after,
      { ok: true, protocol: 'TLSv1.3' },
      'the reissued leaf covers it, same CA',
    );
    await second.close();

    // The reissued leaf was written: the next start serves it while sealed.
    const third = await startTestServer(t, { dataDir, env });
    assert.equal(
      (await handshake(portOf(third.handle.url), third.ca, 'TLSv1.3', 'bulwark.test')).ok,
      true,
    );
  });
});

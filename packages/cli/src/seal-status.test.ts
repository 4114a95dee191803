import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type FakeServer, startFakeServer } from './test-support/fake-server.ts';
import { runAgainst } from './test-support/run-cli.ts';

const passphrase = 'correct horse battery staple';

describe('bulwark seal', () => {
  let server: FakeServer;
  beforeEach(async () => {
    server = await startFakeServer();
    await runAgainst(server, ['init'], { env: { BULWARK_PASSPHRASE: passphrase } });
  });
  afterEach(() => server.close());

  it('sends the operator token from --token-file', async () => {
    const tokenFile = join(server.dir, 'my.token');
    await copyFile(server.operatorTokenFile, tokenFile);
    const run = await runAgainst(server, ['seal', '--token-file', tokenFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, 'sealed\n');
    const token = (await readFile(tokenFile, 'utf8')).trim();
    const seal = server.requests.find((r) => r.path === '/v1/sys/seal');
    assert.equal(seal?.authorization, `Bearer ${token}`);
    assert.equal(server.status().state, 'sealed');
  });

  it('finds <data-dir>/operator.token by default', async () => {
    const run = await runAgainst(server, ['seal', '--data-dir', server.dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(server.status().state, 'sealed');
  });

  it('reports a refused token and a missing one', async () => {
    const refused = await runAgainst(server, ['seal'], {
      env: { BULWARK_OPERATOR_TOKEN: 'not-the-token' },
    });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /operator token was refused/);
    assert.equal(server.status().state, 'unsealed');

    const missing = await runAgainst(server, ['seal', '--data-dir', join(server.dir, 'nowhere')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no operator token: .*nowhere\/operator\.token/);
  });
});

describe('bulwark status', () => {
  let server: FakeServer;
  afterEach(() => server.close());

  it('exits 2 while uninitialised or sealed and 0 once unsealed', async () => {
    server = await startFakeServer();
    const fresh = await runAgainst(server, ['status']);
    assert.equal(fresh.code, 2);
    assert.match(fresh.stdout, /^state: +uninitialized$/m);
    assert.match(fresh.stdout, /^next step: +bulwark init$/m);

    await server.close();
    server = await startFakeServer({ sealedWith: { shares: { count: 3, threshold: 2 } } });
    await runAgainst(server, ['unseal', '--share', server.shares[0] ?? '']);
    const sealed = await runAgainst(server, ['status']);
    assert.equal(sealed.code, 2);
    assert.match(sealed.stdout, /^state: +sealed$/m);
    assert.match(sealed.stdout, /^shares: +1 of 2 given \(of 3 made\)$/m);
    assert.match(sealed.stdout, /^storage: +sqlite$/m);
    assert.match(sealed.stdout, /^version: +0\.1\.0-fake$/m);
    assert.ok(sealed.stdout.includes(server.status().installationId ?? '?'));

    await runAgainst(server, ['unseal', '--share', server.shares[1] ?? '']);
    const unsealed = await runAgainst(server, ['status', '--json']);
    assert.equal(unsealed.code, 0);
    assert.deepEqual(JSON.parse(unsealed.stdout), server.status());
  });
});

describe('connection problems', () => {
  let server: FakeServer;
  beforeEach(async () => {
    server = await startFakeServer();
  });
  afterEach(() => server.close());

  it('names the CA file when the certificate does not verify against it', async () => {
    const run = await runAgainst(server, ['status', '--ca', server.otherCaFile]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /TLS certificate of https:\/\/127\.0\.0\.1:\d+ could not be verified/);
    assert.ok(run.stderr.includes(`the CA certificate ${server.otherCaFile}`), run.stderr);
    assert.deepEqual(server.requests, []);
  });

  it('says the system trust store was used when no CA is known', async () => {
    const run = await runAgainst(server, ['status'], { env: { BULWARK_CA: undefined } });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /could not be verified against the system trust store/);
    assert.match(run.stderr, /--ca <file>/);
  });

  it('uses <data-dir>/tls/ca.crt by default', async () => {
    await mkdir(join(server.dir, 'data', 'tls'), { recursive: true });
    await copyFile(server.caFile, join(server.dir, 'data', 'tls', 'ca.crt'));
    const run = await runAgainst(server, ['status'], { env: { BULWARK_CA: undefined } });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stdout, /uninitialized/);
  });

  it('says plainly when no server answers', async () => {
    const { url } = server;
    await server.close();
    server = await startFakeServer();
    const run = await runAgainst(server, ['status', '--server', url]);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      `error: no Bulwark server answers at ${url} — is it running? (\`npm start\`)\n`,
    );
  });

  it('refuses a non-HTTPS URL and an unreadable CA file', async () => {
    const http = await runAgainst(server, ['status', '--server', 'http://127.0.0.1:1']);
    assert.equal(http.code, 1);
    assert.match(http.stderr, /must be an https:\/\/ URL/);
    const notPem = join(server.dir, 'not-a-cert');
    await writeFile(notPem, 'hello');
    const bad = await runAgainst(server, ['status', '--ca', notPem]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /is not a PEM certificate/);
    const missing = await runAgainst(server, ['status', '--ca', join(server.dir, 'missing.crt')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read the CA certificate .*missing\.crt: ENOENT/);
  });
});

/**
 * The DNS firewall inside the server, driven the way an org uses it: zones,
 * client groups and devices made over the API, then real clients — `dig`
 * over UDP, `kdig` over DNS over TLS with a client certificate and over DNS
 * over HTTPS on the main port — see the result. Upstream: a local authority
 * over DoT (nothing leaves the machine).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import * as packet from 'dns-packet';
import { dig, kdig } from '../support/dig.ts';
import { buildWorld, givePasskey } from '../support/directory-world.ts';
import { startLocalInternet } from '../support/dns-world.ts';
import { httpsRequest } from '../support/https.ts';
import { makeTestPki } from '../support/pki.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const host = '127.0.0.1';

async function dnsServer(t: TestContext, opts: { rangeOrgs?: string[] } = {}) {
  const dir = tempDir(t);
  const { pki, authority } = await startLocalInternet(t, dir);
  const listPath = join(dir, 'ads.txt');
  writeFileSync(listPath, '||ads.example.net^\n');
  const trackersPath = join(dir, 'trackers.txt');
  writeFileSync(trackersPath, 'tracker.example.org\n');
  const dataDir = join(dir, 'data');
  const server = await startTestServer(t, {
    dataDir: tempDir(t),
    config: {
      dns: {
        enabled: true,
        udpPort: 0,
        tcpPort: 0,
        dotPort: 0,
        upstreams: [{ url: authority.dotUrl, caFile: pki.caFile, serverName: '127.0.0.1' }],
        lists: [
          { id: 'ads', source: listPath, format: 'adblock', category: 'ads' },
          { id: 'trackers', source: trackersPath, format: 'domains', category: 'trackers' },
        ],
        defaultPolicy: { blockCategories: ['ads'], queryLog: 'full' },
        // The world's orgs are test tenants; one test below checks the default refusal.
        rangeOrgs: opts.rangeOrgs ?? ['*'],
      },
    },
  });
  void dataDir;
  const dns = server.handle.dns();
  assert.ok(dns, 'dns.enabled starts the resolver');
  return { server, dns, authority, pki, dir };
}

/** The parts of the DNS API's answers these tests read. */
interface ApiJson {
  zone: { id: string };
  group: { id: string };
  client: { id: string };
  dohUrl: string;
  queries: { name: string; client: string | null; outcome: string }[];
  stats: unknown;
}

async function unsealedWorld(server: TestServer) {
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'dns e2e passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  const world = await buildWorld(server);
  await givePasskey(server, world.people.orgAdmin.id, 'adce0002-35bc-c60a-648b-0b25f1f05503');
  const admin = world.people.orgAdmin.token as string;
  const call = async (
    path: string,
    status: number,
    opts: { method?: string; body?: unknown } = {},
  ) => {
    const answer = await server.request(path, {
      ...opts,
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(answer.status, status, `${opts.method ?? 'GET'} ${path}: ${answer.body}`);
    return (answer.body === '' ? {} : JSON.parse(answer.body)) as ApiJson;
  };
  return { world, call, org: world.acme };
}

describe('DNS firewall in the server', () => {
  it('keeps DoH tokens and looked-up names out of the server log', async (t) => {
    const log = new PassThrough();
    let written = '';
    log.on('data', (chunk: Buffer) => {
      written += chunk.toString();
    });
    const server = await startTestServer(t, { dataDir: tempDir(t), logStream: log });
    const query = packet.encode({
      type: 'query',
      id: 0,
      flags: packet.RECURSION_DESIRED,
      questions: [{ type: 'A', name: 'secret-lookup.example' }],
    });
    await server.request(
      `/dns-query/TOKEN-SHOULD-NOT-BE-LOGGED?dns=${query.toString('base64url')}`,
    );
    await server.request('/v1/sys/status');
    await new Promise((r) => setTimeout(r, 100));
    assert.match(written, /incoming request/, 'the log is being written at debug level');
    assert.doesNotMatch(written, /TOKEN-SHOULD-NOT-BE-LOGGED/);
    assert.doesNotMatch(written, new RegExp(query.toString('base64url')));
  });

  it('resolves while sealed with the defaults, then serves the org’s zones and groups once unsealed', async (t) => {
    const { server, dns } = await dnsServer(t);
    const udp = dns.ports.udp ?? 0;
    // Before init: the defaults (loopback allowed, ads blocked) already work.
    assert.deepEqual(
      (await dig(host, udp, ['www.example.com'])).answers.map((a) => a.data),
      ['93.184.215.14'],
    );
    assert.equal((await dig(host, udp, ['ads.example.net'])).status, 'NXDOMAIN');

    const { call, org } = await unsealedWorld(server);
    const { zone } = await call(`/v1/orgs/${org}/dns/zones`, 201, {
      method: 'POST',
      body: { name: 'corp.example' },
    });
    await call(`/v1/orgs/${org}/dns/zones/${zone.id}/records`, 201, {
      method: 'POST',
      body: { name: 'intranet.corp.example', type: 'A', ttl: 600, data: '10.1.2.3' },
    });
    // Not yet: this address belongs to no group of the org, so the org's names are not its business.
    assert.equal((await dig(host, udp, ['intranet.corp.example'])).status, 'NXDOMAIN');
    await call(`/v1/orgs/${org}/dns/groups`, 201, {
      method: 'POST',
      body: {
        name: 'Office',
        sourceCidrs: ['127.0.0.1/32'],
        blockCategories: [],
        rules: [{ action: 'block', pattern: 'www.example.com' }],
        answer: 'null',
      },
    });
    const intranet = await dig(host, udp, ['intranet.corp.example']);
    assert.deepEqual(
      intranet.answers.map((a) => a.data),
      ['10.1.2.3'],
    );
    assert.ok(intranet.flags.includes('aa'));
    assert.deepEqual(
      (await dig(host, udp, ['www.example.com'])).answers.map((a) => a.data),
      ['0.0.0.0'],
      'the group’s own block rule, answered with the null address',
    );

    // Seal: org data leaves the resolver, resolution goes on with the defaults.
    await server.handle.seal.seal();
    assert.equal((await dig(host, udp, ['intranet.corp.example'])).status, 'NXDOMAIN');
    assert.deepEqual(
      (await dig(host, udp, ['www.example.com'])).answers.map((a) => a.data),
      ['93.184.215.14'],
    );
  });

  it('recognises a device by its DoH URL token and its DoT certificate; refuses bad DoH requests', async (t) => {
    const { server, dns, dir } = await dnsServer(t);
    const { call, org } = await unsealedWorld(server);
    const { group } = await call(`/v1/orgs/${org}/dns/groups`, 201, {
      method: 'POST',
      body: {
        name: 'Laptops',
        sourceCidrs: [],
        blockCategories: [],
        rules: [{ action: 'block', pattern: 'tracker.example.org' }],
        answer: 'nxdomain',
      },
    });
    const devicePki = await makeTestPki(join(dir, 'device'), 'Device CA');
    const laptop = await call(`/v1/orgs/${org}/dns/groups/${group.id}/clients`, 201, {
      method: 'POST',
      body: {
        name: 'Ada’s laptop',
        certificatePem: readFileSync(devicePki.clientCertFile, 'utf8'),
      },
    });
    const port = new URL(server.handle.url).port;
    const tokenPath = new URL(laptop.dohUrl as string).pathname;
    const caFile = join(server.dataDir, 'tls', 'ca.crt');

    // By the token, over DNS over HTTPS (HTTP/2, POST and GET) on the main port.
    const viaToken = await kdig(host, Number(port), [
      `+https=${tokenPath}`,
      `+tls-ca=${caFile}`,
      '+tls-hostname=localhost',
      'tracker.example.org',
    ]);
    assert.equal(viaToken.status, 'NXDOMAIN', viaToken.raw);
    const viaGet = await kdig(host, Number(port), [
      `+https=${tokenPath}`,
      '+https-get',
      `+tls-ca=${caFile}`,
      '+tls-hostname=localhost',
      'www.example.com',
    ]);
    assert.deepEqual(
      viaGet.answers.map((a) => a.data),
      ['93.184.215.14'],
    );
    // Without it, the same client is just an address with the defaults: not blocked.
    const plain = await kdig(host, Number(port), [
      '+https',
      `+tls-ca=${caFile}`,
      '+tls-hostname=localhost',
      'tracker.example.org',
    ]);
    assert.equal(plain.status, 'NOERROR');

    // By the certificate, over DNS over TLS.
    const viaCert = await kdig(host, dns.ports.dot ?? 0, [
      `+tls-ca=${caFile}`,
      '+tls-hostname=localhost',
      `+tls-certfile=${devicePki.clientCertFile}`,
      `+tls-keyfile=${devicePki.clientKeyFile}`,
      'tracker.example.org',
    ]);
    assert.equal(viaCert.status, 'NXDOMAIN', viaCert.raw);
    const noCert = await kdig(host, dns.ports.dot ?? 0, [
      `+tls-ca=${caFile}`,
      '+tls-hostname=localhost',
      'tracker.example.org',
    ]);
    assert.equal(noCert.status, 'NOERROR');

    // Bad DoH requests: plain words, the right status, nobody else harmed.
    const query = packet.encode({
      type: 'query',
      id: 0,
      flags: packet.RECURSION_DESIRED,
      questions: [{ type: 'A', name: 'www.example.com' }],
    });
    const wrongType = await server.request('/dns-query', {
      method: 'POST',
      body: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(wrongType.status, 415);
    const badParam = await server.request('/dns-query?dns=***');
    assert.equal(badParam.status, 400);
    assert.match(badParam.body, /base64url/);
    const unknownToken = await server.request(
      `/dns-query/not-a-token?dns=${query.toString('base64url')}`,
    );
    assert.equal(unknownToken.status, 403);
    const garbage = await httpsRequest(
      `${server.handle.url}/dns-query?dns=${Buffer.from('garbage!garbage!').toString('base64url')}`,
      { ca: server.ca },
    );
    assert.equal(garbage.status, 200, 'a readable header gets a DNS answer: FORMERR');
    await call(`/v1/orgs/${org}/dns/clients/${laptop.client.id}`, 204, { method: 'DELETE' });
    const revoked = await server.request(`${tokenPath}?dns=${query.toString('base64url')}`);
    assert.equal(revoked.status, 403, 'a revoked token is refused');
  });

  it('lets only the installation’s own org (or orgs the operator names) claim address ranges', async (t) => {
    const { server } = await dnsServer(t, { rangeOrgs: [] });
    const { call, org, world } = await unsealedWorld(server);
    const refused = await server.request(`/v1/orgs/${org}/dns/groups`, {
      method: 'POST',
      body: { name: 'Grab', sourceCidrs: ['127.0.0.0/8'] },
      headers: { authorization: `Bearer ${world.people.orgAdmin.token}` },
    });
    assert.equal(refused.status, 403, refused.body);
    assert.match(refused.body, /dns\.rangeOrgs/);
    // Devices can still be registered: a group without ranges is fine.
    await call(`/v1/orgs/${org}/dns/groups`, 201, { method: 'POST', body: { name: 'Laptops' } });
  });

  it('follows an org policy change at once: a category turned on is blocked on the next query', async (t) => {
    const { server, dns } = await dnsServer(t);
    const { call, org } = await unsealedWorld(server);
    await call(`/v1/orgs/${org}/dns/groups`, 201, {
      method: 'POST',
      body: { name: 'Office', sourceCidrs: ['127.0.0.1/32'] },
    });
    const udp = dns.ports.udp ?? 0;
    assert.equal((await dig(host, udp, ['tracker.example.org'])).status, 'NOERROR');
    const current = (await call(`/v1/orgs/${org}/policy`, 200)) as unknown as {
      policy: { dnsBlockCategories: string[] };
    };
    await call(`/v1/orgs/${org}/policy`, 200, {
      method: 'PUT',
      body: {
        ...current.policy,
        dnsBlockCategories: [...current.policy.dnsBlockCategories, 'trackers'],
      },
    });
    assert.equal((await dig(host, udp, ['tracker.example.org'])).status, 'NXDOMAIN');
  });

  it('keeps the query log per policy, counts statistics, and exports Prometheus metrics', async (t) => {
    const { server, dns } = await dnsServer(t);
    const { call, org } = await unsealedWorld(server);
    await call(`/v1/orgs/${org}/dns/groups`, 201, {
      method: 'POST',
      body: {
        name: 'Office',
        sourceCidrs: ['127.0.0.0/8'],
        blockCategories: ['ads'],
        rules: [],
        answer: 'nxdomain',
      },
    });
    const udp = dns.ports.udp ?? 0;
    await dig(host, udp, ['www.example.com']);
    await dig(host, udp, ['ads.example.net']);
    await dig(host, udp, ['cdn.ads.example.net']);
    await new Promise((r) => setTimeout(r, 1500));
    const log = await call(`/v1/orgs/${org}/dns/query-log`, 200);
    const names = (log.queries as { name: string; client: string | null; outcome: string }[]).map(
      (e) => [e.name, e.outcome],
    );
    assert.ok(
      names.some(([n, o]) => n === 'ads.example.net' && o === 'blocked'),
      JSON.stringify(log),
    );
    assert.ok(
      (log.queries as { client: string | null }[]).every((e) => e.client === '127.0.0.0'),
      'the org default logs anonymised: the client’s network only',
    );
    const stats = await call(`/v1/orgs/${org}/dns/stats`, 200);
    assert.equal(JSON.stringify(stats).includes('ads.example.net'), true, JSON.stringify(stats));
    const metrics = await server.request('/metrics');
    assert.match(metrics.body, /bulwark_dns_queries_total\{[^}]*\} \d+/);
    assert.match(metrics.body, /bulwark_dns_blocked_total\{category="ads"\} 2/);
  });
});

/**
 * The resolver through real clients: `dig` over UDP and TCP, `kdig` over
 * DNS over TLS, against a local authority that plays the internet over DoT
 * (nothing leaves the machine). docs/dns.md describes what is asserted.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as packet from 'dns-packet';
import { dig, kdig } from '../support/dig.ts';
import { defaultPolicy, listFile, loopbackDefaults, startDnsWorld } from '../support/dns-world.ts';
import { makeTestPki } from '../support/pki.ts';
import { tempDir } from '../support/temp.ts';

const host = '127.0.0.1';

describe('DNS resolver: answers and cache', () => {
  it('answers over UDP and TCP from the upstream, then from the cache (TTL counting down)', async (t) => {
    const w = await startDnsWorld(t);
    const udp = w.dns.ports.udp ?? 0;
    const first = await dig(host, udp, ['www.example.com', 'A']);
    assert.equal(first.status, 'NOERROR');
    assert.deepEqual(
      first.answers.map((a) => a.data),
      ['93.184.215.14'],
    );
    assert.ok(first.flags.includes('ra'));
    const asked = w.authority.queries.filter((q) => q.name === 'www.example.com').length;
    assert.equal(asked, 1);
    await new Promise((r) => setTimeout(r, 1100));
    const second = await dig(host, w.dns.ports.tcp ?? 0, ['+tcp', 'WWW.Example.COM', 'A']);
    assert.equal(second.status, 'NOERROR');
    assert.deepEqual(
      second.answers.map((a) => a.data),
      ['93.184.215.14'],
    );
    assert.ok((second.answers[0]?.ttl ?? 300) < 300, 'the cached TTL counts down');
    assert.equal(w.authority.queries.filter((q) => q.name === 'www.example.com').length, 1);
  });

  it('caches NXDOMAIN for the SOA minimum (RFC 2308)', async (t) => {
    const w = await startDnsWorld(t);
    const udp = w.dns.ports.udp ?? 0;
    const a = await dig(host, udp, ['nothing-here.example.com', 'A']);
    const b = await dig(host, udp, ['nothing-here.example.com', 'A']);
    assert.equal(a.status, 'NXDOMAIN');
    assert.equal(b.status, 'NXDOMAIN');
    assert.equal(b.authority[0]?.type, 'SOA');
    assert.equal(
      w.authority.queries.filter((q) => q.name === 'nothing-here.example.com').length,
      1,
    );
  });

  it('pads answers over DNS over TLS and checks the upstream was asked with padding', async (t) => {
    const w = await startDnsWorld(t);
    const dot = w.dns.ports.dot ?? 0;
    const answer = await kdig(host, dot, [
      `+tls-ca=${w.pki.caFile}`,
      '+tls-hostname=localhost',
      '+edns',
      '+padding',
      'www.example.com',
      'AAAA',
    ]);
    assert.equal(answer.status, 'NOERROR');
    assert.deepEqual(
      answer.answers.map((a) => a.data),
      ['2606:2800:21f:cb07::1'],
    );
    assert.ok(
      answer.padding !== null && answer.padding > 0,
      `padding in the answer: ${answer.raw}`,
    );
  });

  it('retries a truncated UDP answer over TCP and gets it whole', async (t) => {
    const w = await startDnsWorld(t);
    const udp = w.dns.ports.udp ?? 0;
    const truncated = await dig(host, udp, ['+noedns', '+ignore', 'big.example.com', 'TXT']);
    assert.ok(truncated.flags.includes('tc'), 'over 512 octets without EDNS: truncated');
    assert.equal(truncated.answers.length, 0);
    const whole = await dig(host, udp, ['+noedns', 'big.example.com', 'TXT']);
    assert.ok(!whole.flags.includes('tc'));
    assert.equal(whole.answers.length, 30, 'dig fell back to TCP and got every record');
  });

  it('serves a stale answer when every upstream fails, and SERVFAIL when there is none', async (t) => {
    const w = await startDnsWorld(t);
    const udp = w.dns.ports.udp ?? 0;
    const fresh = await dig(host, udp, ['short.example.com', 'A']);
    assert.deepEqual(
      fresh.answers.map((a) => a.data),
      ['192.0.2.50'],
    );
    w.authority.mode = 'refuse-connections';
    await new Promise((r) => setTimeout(r, 1500));
    const stale = await dig(host, udp, ['short.example.com', 'A']);
    assert.equal(stale.status, 'NOERROR');
    assert.deepEqual(
      stale.answers.map((a) => a.data),
      ['192.0.2.50'],
    );
    assert.equal(stale.answers[0]?.ttl, 30, 'stale answers carry TTL 30 (RFC 8767)');
    const none = await dig(host, udp, ['never-seen.example.com', 'A']);
    assert.equal(none.status, 'SERVFAIL');
  });

  it('answers the use-application-dns.net canary with NXDOMAIN', async (t) => {
    const w = await startDnsWorld(t);
    const answer = await dig(host, w.dns.ports.udp ?? 0, ['use-application-dns.net', 'A']);
    assert.equal(answer.status, 'NXDOMAIN');
    assert.equal(w.authority.queries.filter((q) => q.name === 'use-application-dns.net').length, 0);
  });
});

describe('DNS firewall: lists, answer modes, rebinding', () => {
  it('blocks by each list format, honours exceptions, and answers per mode', async (t) => {
    const dir = tempDir(t);
    const lists = [
      listFile(dir, 'hosts', 'hosts', 'ads', '0.0.0.0 tracker.example.org\n127.0.0.1 localhost\n'),
      listFile(dir, 'plain', 'domains', 'malware', '# malware\nbad.example.com\nnot a domain!!\n'),
      listFile(dir, 'adblock', 'adblock', 'ads', '||ads.example.net^\n@@||good.ads.example.net^\n'),
      listFile(
        dir,
        'rpz',
        'rpz',
        'phishing',
        '$ORIGIN rpz.local.\nphish.example.com CNAME .\nnodata.example.com CNAME *.\nlocal.example.com A 0.0.0.0\n',
      ),
      listFile(dir, 'nulls', 'domains', 'trackers', 'pixel.example.com\n', 'null'),
    ];
    const w = await startDnsWorld(t, { lists });
    const udp = w.dns.ports.udp ?? 0;
    const status = w.dns.status().lists;
    assert.equal(status.find((l) => l.id === 'plain')?.skipped, 1, 'the junk line is counted');

    assert.equal((await dig(host, udp, ['tracker.example.org'])).status, 'NXDOMAIN');
    assert.equal((await dig(host, udp, ['sub.bad.example.com'])).status, 'NXDOMAIN');
    const ads = await dig(host, udp, ['cdn.ads.example.net']);
    assert.equal(ads.status, 'NXDOMAIN');
    assert.match(ads.ede ?? '', /blocked/i);
    const good = await dig(host, udp, ['good.ads.example.net']);
    assert.deepEqual(
      good.answers.map((a) => a.data),
      ['198.51.100.3'],
      '@@ exception wins',
    );
    assert.equal((await dig(host, udp, ['phish.example.com'])).status, 'NXDOMAIN');
    const nodata = await dig(host, udp, ['nodata.example.com']);
    assert.equal(nodata.status, 'NOERROR');
    assert.equal(nodata.answers.length, 0);
    const local = await dig(host, udp, ['local.example.com', 'A']);
    assert.deepEqual(
      local.answers.map((a) => a.data),
      ['0.0.0.0'],
    );
    const pixel = await dig(host, udp, ['pixel.example.com', 'AAAA']);
    assert.deepEqual(
      pixel.answers.map((a) => a.data),
      ['::'],
    );
    // None of the blocked names went to the upstream.
    const leaked = w.authority.queries.filter((q) =>
      /tracker|bad\.example|^(cdn\.)?ads\.example\.net$|phish|pixel/.test(q.name),
    );
    assert.deepEqual(
      leaked.map((q) => q.name),
      [],
    );
    // A CNAME to a blocked name is blocked (CNAME cloaking).
    assert.equal((await dig(host, udp, ['metrics.shop.example'])).status, 'NXDOMAIN');
  });

  it('loads a list from an https URL on schedule; a failed refresh keeps the last good copy', async (t) => {
    const dir = tempDir(t);
    const pki = await makeTestPki(join(dir, 'lists-pki'), 'List host CA');
    let body = '||tracker.example.org^\n';
    let status = 200;
    const listHost = createHttpsServer(
      { cert: readFileSync(pki.serverCertFile), key: readFileSync(pki.serverKeyFile) },
      (_req, res) => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status === 200 ? body : 'down');
      },
    );
    await new Promise<void>((r) => listHost.listen(0, host, () => r()));
    t.after(() => listHost.close());
    const port = (listHost.address() as { port: number }).port;
    const w = await startDnsWorld(t, {
      lists: [
        {
          id: 'remote',
          source: `https://localhost:${port}/trackers.txt`,
          format: 'adblock',
          category: 'trackers',
          refreshMinutes: 60,
          caFile: pki.caFile,
        },
      ],
    });
    const udp = w.dns.ports.udp ?? 0;
    assert.equal((await dig(host, udp, ['tracker.example.org'])).status, 'NXDOMAIN');
    body = '||ads.example.net^\n';
    assert.equal((await w.dns.lists.refresh('remote')).error, null);
    assert.equal((await dig(host, udp, ['ads.example.net'])).status, 'NXDOMAIN');
    assert.equal(
      (await dig(host, udp, ['tracker.example.org'])).status,
      'NOERROR',
      'the new copy replaced the old',
    );
    status = 503;
    const failed = await w.dns.lists.refresh('remote');
    assert.equal(failed.error, 'HTTP 503');
    assert.equal(failed.rules, 1);
    assert.equal(
      (await dig(host, udp, ['ads.example.net'])).status,
      'NXDOMAIN',
      'still blocked while the host is down',
    );
  });

  it('answers with the sinkhole address when the policy says so', async (t) => {
    const dir = tempDir(t);
    const lists = [listFile(dir, 'mal', 'domains', 'malware', 'bad.example.com\n')];
    const w = await startDnsWorld(t, {
      lists,
      defaults: {
        ...loopbackDefaults,
        policy: {
          ...defaultPolicy,
          answer: 'sinkhole',
          sinkhole: { ipv4: '192.0.2.253', ipv6: '2001:db8::253' },
        },
      },
    });
    const udp = w.dns.ports.udp ?? 0;
    assert.deepEqual(
      (await dig(host, udp, ['bad.example.com', 'A'])).answers.map((a) => a.data),
      ['192.0.2.253'],
    );
    assert.deepEqual(
      (await dig(host, udp, ['bad.example.com', 'AAAA'])).answers.map((a) => a.data),
      ['2001:db8::253'],
    );
  });

  it('drops private addresses from public names (rebinding), except names allowed', async (t) => {
    const w = await startDnsWorld(t, { rebindingAllowed: ['vpn.example.com'] });
    const udp = w.dns.ports.udp ?? 0;
    const rebind = await dig(host, udp, ['rebind.example.com', 'A']);
    assert.deepEqual(
      rebind.answers.map((a) => a.data),
      ['203.0.113.7'],
    );
    const vpn = await dig(host, udp, ['vpn.example.com', 'A']);
    assert.deepEqual(
      vpn.answers.map((a) => a.data),
      ['10.8.0.1'],
    );
  });
});

describe('DNS abuse limits and bad input', () => {
  it('refuses recursion to addresses outside the allowed ranges', async (t) => {
    const w = await startDnsWorld(t, {
      defaults: { ...loopbackDefaults, allowedRanges: ['10.0.0.0/8'] },
    });
    const answer = await dig(host, w.dns.ports.udp ?? 0, ['www.example.com']);
    assert.equal(answer.status, 'REFUSED');
    assert.equal(w.authority.queries.length, 0);
  });

  it('limits each client: over the rate, UDP answers slip (TC) or drop; TCP gets REFUSED', async (t) => {
    const w = await startDnsWorld(t, { rateLimit: { queriesPerSecond: 5 } });
    const udp = w.dns.ports.udp ?? 0;
    await dig(host, udp, ['www.example.com']);
    const replies = await blast(udp, 60);
    const full = replies.filter((r) =>
      (r.flags ?? 0) & 0x0200 ? false : (r.answers?.length ?? 0) > 0,
    );
    const slipped = replies.filter((r) => ((r.flags ?? 0) & 0x0200) !== 0);
    assert.ok(full.length <= 12, `at most the burst is answered in full, got ${full.length}`);
    assert.ok(slipped.length > 0, 'some answers slip with TC so real clients retry over TCP');
    assert.ok(replies.length < 60, 'the rest are dropped');
    const tcp = await Promise.all(
      Array.from({ length: 16 }, () =>
        dig(host, w.dns.ports.tcp ?? 0, ['+tcp', 'www.example.com']),
      ),
    );
    const refused = tcp.filter((a) => a.status === 'REFUSED').length;
    assert.ok(refused > 0, 'over TCP the limit answers REFUSED (no slip: TCP is not spoofable)');
    assert.ok(tcp.every((a) => a.status === 'REFUSED' || a.status === 'NOERROR'));
  });

  it('survives garbage, compression loops and oversized TCP frames, and keeps serving', async (t) => {
    const w = await startDnsWorld(t);
    const udp = w.dns.ports.udp ?? 0;
    const good = packet.encode({
      type: 'query',
      id: 7,
      flags: packet.RECURSION_DESIRED,
      questions: [{ type: 'A', name: 'www.example.com' }],
    });
    // A name whose compression pointer points at itself.
    const loop = Buffer.from(good);
    loop.writeUInt16BE(0xc00c, 12);
    const replies = await sendRaw(udp, [
      Buffer.from('not dns at all'),
      Buffer.alloc(5),
      loop,
      good.subarray(0, 20),
    ]);
    const loopReply = replies.find((r) => r.readUInt16BE(0) === 7);
    assert.ok(loopReply, 'a readable header gets an answer');
    assert.equal(loopReply.readUInt16BE(2) & 0xf, 1, 'FORMERR');
    // An oversized TCP frame ends that connection only.
    const closed = await new Promise<boolean>((resolve) => {
      const socket = connect(w.dns.ports.tcp ?? 0, host, () => {
        const frame = Buffer.alloc(2 + 100);
        frame.writeUInt16BE(60000, 0);
        socket.write(frame);
      });
      socket.on('close', () => resolve(true));
      socket.on('error', () => {});
      setTimeout(() => resolve(false), 3000);
    });
    assert.ok(closed, 'the connection with an oversized frame is closed');
    assert.equal((await dig(host, udp, ['www.example.com'])).status, 'NOERROR');
  });
});

describe('DNS air-gapped and internal zones', () => {
  it('answers internal zones to the org’s clients, nothing else, and no other org’s names', async (t) => {
    const w = await startDnsWorld(t, { airGapped: true, upstreams: [] });
    w.dns.setSnapshot({
      zones: [
        {
          name: 'corp.example',
          orgId: 'org-a',
          records: [
            { name: 'intranet.corp.example', type: 'A', ttl: 600, data: '10.1.2.3' },
            { name: 'corp.example', type: 'MX', ttl: 600, data: '10 mail.corp.example' },
          ],
        },
        {
          name: 'other.example',
          orgId: 'org-b',
          records: [{ name: 'secret.other.example', type: 'A', ttl: 600, data: '10.9.9.9' }],
        },
      ],
      groups: [
        {
          id: 'office',
          orgId: 'org-a',
          projectId: null,
          name: 'Office',
          sourceCidrs: ['127.0.0.0/8'],
          policy: { ...defaultPolicy, id: 'office', orgId: 'org-a' },
        },
      ],
      clients: [],
    });
    const udp = w.dns.ports.udp ?? 0;
    const intranet = await dig(host, udp, ['intranet.corp.example', 'A']);
    assert.equal(intranet.status, 'NOERROR');
    assert.ok(intranet.flags.includes('aa'), 'authoritative');
    assert.deepEqual(
      intranet.answers.map((a) => a.data),
      ['10.1.2.3'],
    );
    const mx = await dig(host, udp, ['corp.example', 'MX']);
    assert.deepEqual(
      mx.answers.map((a) => a.data),
      ['10 mail.corp.example.'],
    );
    assert.equal((await dig(host, udp, ['missing.corp.example'])).status, 'NXDOMAIN');
    assert.equal(
      (await dig(host, udp, ['secret.other.example'])).status,
      'REFUSED',
      'org B’s zone is not ours',
    );
    assert.equal(
      (await dig(host, udp, ['www.example.com'])).status,
      'REFUSED',
      'air-gapped: no recursion',
    );
  });
});

describe('DNS internal zones beside recursion', () => {
  it('follows an internal alias out to the world, under the same firewall', async (t) => {
    const dir = tempDir(t);
    const lists = [listFile(dir, 'ads', 'adblock', 'ads', '||tracker.example.org^\n')];
    const w = await startDnsWorld(t, { lists });
    w.dns.setSnapshot({
      zones: [
        {
          name: 'corp.example',
          orgId: 'org-a',
          records: [
            { name: 'www.corp.example', type: 'CNAME', ttl: 600, data: 'www.example.com' },
            { name: 'stats.corp.example', type: 'CNAME', ttl: 600, data: 'tracker.example.org' },
            {
              name: '_sip._tcp.corp.example',
              type: 'SRV',
              ttl: 600,
              data: '10 5 5060 sip.corp.example',
            },
          ],
        },
      ],
      groups: [
        {
          id: 'office',
          orgId: 'org-a',
          projectId: null,
          name: 'Office',
          sourceCidrs: ['127.0.0.1/32'],
          policy: { ...defaultPolicy, id: 'office', orgId: 'org-a' },
        },
      ],
      clients: [],
    });
    const udp = w.dns.ports.udp ?? 0;
    const www = await dig(host, udp, ['www.corp.example', 'A']);
    assert.deepEqual(
      www.answers.map((a) => [a.type, a.data]),
      [
        ['CNAME', 'www.example.com.'],
        ['A', '93.184.215.14'],
      ],
    );
    assert.equal(
      (await dig(host, udp, ['stats.corp.example', 'A'])).status,
      'NXDOMAIN',
      'alias to a blocked name',
    );
    const srv = await dig(host, udp, ['_sip._tcp.corp.example', 'SRV']);
    assert.deepEqual(
      srv.answers.map((a) => a.data),
      ['10 5 5060 sip.corp.example.'],
    );
  });
});

/** Sends n queries for www.example.com at once from one socket; collects what comes back in 1 s. */
async function blast(port: number, n: number): Promise<packet.Packet[]> {
  const socket = createSocket('udp4');
  const replies: packet.Packet[] = [];
  socket.on('message', (m) => replies.push(packet.decode(m)));
  await new Promise<void>((r) => socket.bind(0, host, () => r()));
  for (let i = 0; i < n; i++) {
    socket.send(
      packet.encode({
        type: 'query',
        id: i,
        flags: packet.RECURSION_DESIRED,
        questions: [{ type: 'A', name: 'www.example.com' }],
      }),
      port,
      host,
    );
  }
  await new Promise((r) => setTimeout(r, 1000));
  socket.close();
  return replies;
}

async function sendRaw(port: number, messages: Buffer[]): Promise<Buffer[]> {
  const socket = createSocket('udp4');
  const replies: Buffer[] = [];
  socket.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => socket.bind(0, host, () => r()));
  for (const m of messages) socket.send(m, port, host);
  await new Promise((r) => setTimeout(r, 500));
  socket.close();
  return replies;
}

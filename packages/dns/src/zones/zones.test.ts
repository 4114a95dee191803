import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import type { Zone, ZoneRecord } from '../types.ts';
import { checkZone, maxCnameHops, ZoneAuthority } from './authority.ts';
import { checkRecord, toAnswer } from './records.ts';

const zone = 'corp.example';

function ok(type: string, data: string, name = `www.${zone}`): ZoneRecord {
  const check = checkRecord({ name, type, data }, zone);
  assert.ok(check.ok, check.ok ? '' : check.error);
  return check.record;
}

function error(type: string, data: string, name = `www.${zone}`): string {
  const check = checkRecord({ name, type, data }, zone);
  assert.ok(!check.ok, `expected ${type} '${data}' to be refused`);
  return check.error;
}

/** Encodes one answer in a response and decodes it again, as a client would see it. */
function roundTrip(answer: dnsPacket.Answer): dnsPacket.Answer {
  const bytes = dnsPacket.encode({ type: 'response', id: 1, answers: [answer] });
  const decoded = dnsPacket.decode(bytes).answers?.[0];
  assert.ok(decoded);
  return decoded;
}

/** The RDATA bytes of an SVCB/HTTPS record, as hex. */
function rdataHex(type: 'SVCB' | 'HTTPS', data: string, name = 'example.com'): string {
  const check = checkRecord({ name, type, data }, 'example.com');
  assert.ok(check.ok, check.ok ? '' : check.error);
  const answer = toAnswer(check.record) as unknown as { data: Buffer };
  return answer.data.toString('hex');
}

const hex = (text: string): string => text.replace(/\s+/g, '');

describe('record data', () => {
  it('reads each type and writes it back in one spelling', () => {
    assert.equal(ok('A', '192.0.2.1').data, '192.0.2.1');
    assert.equal(ok('AAAA', '2001:DB8:0:0:0:0:0:1').data, '2001:db8::1');
    assert.equal(ok('AAAA', '::ffff:192.0.2.1').data, '::ffff:c000:201');
    assert.equal(ok('CNAME', 'Target.Example.ORG.').data, 'target.example.org');
    assert.equal(ok('MX', '010 Mail.Example.org.').data, '10 mail.example.org');
    assert.equal(ok('MX', '0 .').data, '0 .');
    assert.equal(ok('TXT', '  v=spf1 -all ').data, 'v=spf1 -all');
    assert.equal(ok('TXT', '"v=DKIM1; k=rsa; " "p=MIIB"').data, 'v=DKIM1; k=rsa; p=MIIB');
    assert.equal(
      ok('SRV', '10 5 5060 sip.corp.example.', `_sip._tcp.${zone}`).data,
      '10 5 5060 sip.corp.example',
    );
    assert.equal(ok('CAA', '0 ISSUE "letsencrypt.org"').data, '0 issue "letsencrypt.org"');
    assert.equal(
      ok('CAA', '128 iodef "mailto:security@corp.example"').data,
      '128 iodef "mailto:security@corp.example"',
    );
    assert.equal(ok('CAA', '0 issuewild ";"').data, '0 issuewild ";"');
    const digest = 'AB'.repeat(32);
    assert.equal(
      ok('TLSA', `3 1 1 ${digest.slice(0, 10)} ${digest.slice(10)}`, `_443._tcp.www.${zone}`).data,
      `3 1 1 ${digest.toLowerCase()}`,
    );
    assert.equal(ok('https', '1 . port=443 alpn="h2,h3"').data, '1 . alpn=h2,h3 port=443');
    assert.equal(
      ok('SVCB', '1 svc.corp.example. ipv6hint=2001:DB8::1 no-default-alpn alpn=h3 mandatory=alpn')
        .data,
      '1 svc.corp.example mandatory=alpn alpn=h3 no-default-alpn ipv6hint=2001:db8::1',
    );
    assert.equal(ok('HTTPS', '0 cdn.example.net').data, '0 cdn.example.net');
  });

  it('reads owner names: the apex, names under it, wildcards; one spelling', () => {
    assert.equal(ok('A', '192.0.2.1', '@').name, zone);
    assert.equal(ok('A', '192.0.2.1', 'WWW.Corp.Example.').name, `www.${zone}`);
    assert.equal(ok('A', '192.0.2.1', `*.dev.${zone}`).name, `*.dev.${zone}`);
    const record = checkRecord(
      { name: `a.${zone}`, type: 'a', data: '192.0.2.1' },
      'Corp.Example.',
    );
    assert.deepEqual(record, {
      ok: true,
      record: { name: `a.${zone}`, type: 'A', ttl: 3600, data: '192.0.2.1' },
    });
    assert.equal(checkRecord({ name: zone, type: 'A', ttl: 0, data: '192.0.2.1' }, zone).ok, true);
  });

  it('says what is wrong with a name, a type or a TTL', () => {
    assert.match(error('A', '192.0.2.1', 'www.other.example'), /outside the zone corp\.example/);
    assert.match(error('A', '192.0.2.1', 'www'), /end in \.corp\.example, like www\.corp\.example/);
    assert.match(error('A', '192.0.2.1', 'bad name.corp.example'), /not a valid domain name/);
    assert.match(error('A', '192.0.2.1', `www.*.${zone}`), /not a valid domain name/);
    assert.match(error('PTR', 'x.example'), /'PTR' is not supported: use one of A, AAAA/);
    for (const ttl of [-1, 604801, 1.5, Number.NaN]) {
      const check = checkRecord({ name: zone, type: 'A', ttl, data: '192.0.2.1' }, zone);
      assert.ok(
        !check.ok && /TTL must be a whole number of seconds from 0 to 604800/.test(check.error),
      );
    }
    assert.match(error('CNAME', 'www.example.org', '@'), /cannot sit at the zone apex/);
    assert.match(error('CNAME', `www.${zone}`), /cannot point to its own name/);
    assert.match(error('SRV', '1 1 443 h.example.org'), /_service\._protocol\.name/);
    assert.match(
      error('TLSA', `3 1 1 ${'00'.repeat(32)}`, `_https._tcp.${zone}`),
      /_port\._protocol\.host/,
    );
  });

  it('says what is wrong with the data, type by type', () => {
    const cases: [string, string, RegExp, string?][] = [
      ['A', '2001:db8::1', /A data must be an IPv4 address, like '192\.0\.2\.1'/],
      ['A', '192.168.01.1', /IPv4 address/],
      ['A', '192.0.2.1 192.0.2.2', /IPv4 address/],
      ['AAAA', '192.0.2.1', /AAAA data must be an IPv6 address/],
      ['AAAA', 'fe80::1%eth0', /IPv6 address/],
      ['CNAME', 'a.example b.example', /CNAME data must be one domain name/],
      ['CNAME', 'bad_-.exa mple', /CNAME data must be one domain name/],
      ['CNAME', '.', /CNAME target '\.' is not a valid domain name/],
      [
        'MX',
        'mail.example.org',
        /MX data must be '<preference> <exchange>', like '10 mail\.example\.org'/,
      ],
      ['MX', '70000 mail.example.org', /MX preference must be a whole number from 0 to 65535/],
      [
        'MX',
        '10 mail..example.org',
        /MX exchange 'mail\.\.example\.org' is not a valid domain name/,
      ],
      ['MX', '10 .', /null MX \('\.'\) must have preference 0/],
      ['TXT', '', /TXT data must not be empty/],
      ['TXT', 'a\nb', /control characters/],
      ['TXT', 'x'.repeat(4001), /at most 4000 characters/],
      [
        'SRV',
        '10 5 443',
        /SRV data must be '<priority> <weight> <port> <target>'/,
        `_x._tcp.${zone}`,
      ],
      [
        'SRV',
        '10 5 99999 h.example.org',
        /port must be whole numbers from 0 to 65535/,
        `_x._tcp.${zone}`,
      ],
      [
        'SRV',
        '10 5 443 -h.example.org',
        /SRV target '-h\.example\.org' is not a valid/,
        `_x._tcp.${zone}`,
      ],
      ['CAA', '0 issue', /CAA data must be '<flags> <tag> "<value>"'/],
      [
        'CAA',
        '0 issue letsencrypt.org; validationmethods=dns-01',
        /in double quotes when it has spaces/,
      ],
      ['CAA', '256 issue "ca.example"', /CAA flags must be a whole number from 0 to 255/],
      [
        'CAA',
        '0 contactemail "a@b.example"',
        /CAA tag 'contactemail' must be issue, issuewild or iodef/,
      ],
      ['CAA', '0 iodef "security@corp.example"', /iodef value must be a mailto: or https: URL/],
      ['CAA', '0 issue "not a domain"', /must start with the CA's domain name/],
      ['CAA', '0 issue "ca.example; nonsense"', /parameters must be '; key=value'/],
      ['CAA', '0 issue "ca.example', /a double quote is not closed/],
      ['CAA', '0 issue "ca\\"example"', /backslash escapes are not supported/],
      [
        'TLSA',
        '3 1 1',
        /TLSA data must be '<usage> <selector> <matching type> <hex>'/,
        `_443._tcp.${zone}`,
      ],
      ['TLSA', `4 1 1 ${'00'.repeat(32)}`, /TLSA usage must be 0, 1, 2 or 3/, `_443._tcp.${zone}`],
      ['TLSA', `3 2 1 ${'00'.repeat(32)}`, /TLSA selector must be 0/, `_443._tcp.${zone}`],
      ['TLSA', `3 1 3 ${'00'.repeat(32)}`, /TLSA matching type must be 0/, `_443._tcp.${zone}`],
      ['TLSA', '3 1 1 xyz0', /must be hexadecimal/, `_443._tcp.${zone}`],
      ['TLSA', '3 1 1 abc', /must be hexadecimal, two digits a byte/, `_443._tcp.${zone}`],
      [
        'TLSA',
        `3 1 1 ${'00'.repeat(31)}`,
        /matching type 1 needs a 32-byte digest \(64 hex digits\), not 31 bytes/,
        `_443._tcp.${zone}`,
      ],
      [
        'TLSA',
        `3 1 2 ${'00'.repeat(32)}`,
        /matching type 2 needs a 64-byte digest/,
        `_443._tcp.${zone}`,
      ],
      ['HTTPS', '1', /HTTPS data must be '<priority> <target> \[key=value …\]'/],
      ['HTTPS', '70000 .', /HTTPS priority must be a whole number from 0 to 65535/],
      ['HTTPS', '1 -bad-', /HTTPS target '-bad-' must be a domain name, or '\.'/],
      ['HTTPS', '0 . alpn=h2', /priority 0 \(alias mode\) takes no key=value parameters/],
      ['HTTPS', '1 . dohpath=/q', /key 'dohpath' is not supported: use alpn, no-default-alpn/],
      ['HTTPS', '1 . port=99999', /port must be a whole number from 0 to 65535/],
      [
        'HTTPS',
        '1 . ipv4hint=192.0.2.1,2001:db8::1',
        /ipv4hint must be a comma-separated list of IPv4/,
      ],
      ['HTTPS', '1 . ipv6hint=192.0.2.1', /ipv6hint must be a comma-separated list of IPv6/],
      ['HTTPS', '1 . alpn=h2,,h3', /alpn must be a comma-separated list of protocol ids/],
      ['HTTPS', '1 . ech=not*base64', /ech must be the ECHConfigList in base64/],
      ['HTTPS', '1 . mandatory=frobnicate', /mandatory lists 'frobnicate', which is not a key/],
    ];
    for (const [type, data, expected, name] of cases) {
      assert.match(error(type, data, name), expected, `${type} '${data}'`);
    }
  });

  it('never throws, whatever it is given', () => {
    // Records of each type that are mostly valid, so the property gets deep
    // into every parser, and the same with a field spoiled or added.
    const u16 = fc.integer({ min: 0, max: 65535 });
    const target = fc.oneof(fc.domain(), fc.constant('.'));
    const hexBytes = (n: number) =>
      fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex'));
    const param = fc.oneof(
      fc.constantFrom(
        'alpn=h2,h3',
        'alpn="h3"',
        'ech=AEX+DQBB',
        'no-default-alpn',
        'mandatory=alpn',
        'mandatory=port',
      ),
      u16.map((p) => `port=${p}`),
      fc.array(fc.ipV4(), { minLength: 1, maxLength: 3 }).map((a) => `ipv4hint=${a.join(',')}`),
      fc.array(fc.ipV6(), { minLength: 1, maxLength: 3 }).map((a) => `ipv6hint=${a.join(',')}`),
    );
    const svcb = fc
      .tuple(
        fc.oneof(fc.constant(0), u16),
        target,
        fc.uniqueArray(param, { maxLength: 4, selector: (p) => p.split('=')[0] }),
      )
      .map(([priority, t, params]) => [priority, t, ...(priority === 0 ? [] : params)].join(' '));
    const typed: [string, string, fc.Arbitrary<string>][] = [
      ['A', `www.${zone}`, fc.ipV4()],
      ['AAAA', `www.${zone}`, fc.ipV6()],
      ['CNAME', `*.${zone}`, fc.domain()],
      ['MX', zone, fc.tuple(u16, fc.domain()).map(([p, d]) => `${p} ${d}`)],
      ['TXT', `_dmarc.${zone}`, fc.string({ maxLength: 600 })],
      ['SRV', `_x._tcp.${zone}`, fc.tuple(u16, u16, u16, target).map((f) => f.join(' '))],
      [
        'CAA',
        zone,
        fc
          .tuple(
            fc.constantFrom(0, 128),
            fc.constantFrom('issue', 'issuewild'),
            fc.oneof(fc.domain(), fc.constant(';')),
          )
          .map(([f, t, v]) => `${f} ${t} "${v}"`),
      ],
      [
        'TLSA',
        `_443._tcp.${zone}`,
        fc
          .tuple(
            fc.integer({ min: 0, max: 3 }),
            fc.integer({ min: 0, max: 1 }),
            fc.constantFrom(0, 1, 2),
          )
          .chain(([u, s, m]) => hexBytes(m === 2 ? 64 : 32).map((h) => `${u} ${s} ${m} ${h}`)),
      ],
      ['HTTPS', `www.${zone}`, svcb],
      ['SVCB', `_dns.${zone}`, svcb],
    ];
    const spoil = (text: string) =>
      fc.oneof(
        fc.constant(text),
        fc.constant(text),
        fc.string().map((extra) => `${text} ${extra}`),
        fc
          .nat(text.length)
          .chain((at) =>
            fc.string({ maxLength: 3 }).map((s) => text.slice(0, at) + s + text.slice(at + 1)),
          ),
      );
    const input = fc.oneof(
      fc
        .constantFrom(...typed)
        .chain(([type, name, data]) =>
          fc.tuple(fc.constant(name), fc.constant(type), data.chain(spoil)),
        ),
      fc.tuple(fc.oneof(fc.domain(), fc.string()), fc.string(), fc.string()),
    );
    const ttl = fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: 0, max: 604800 }),
      fc.integer(),
      fc.double(),
    );
    const accepted = new Set<string>();
    fc.assert(
      fc.property(
        input,
        ttl,
        fc.oneof(fc.constant(zone), fc.constant(zone), fc.string()),
        ([n, t, d], l, z) => {
          const check = checkRecord({ name: n, type: t, ttl: l, data: d }, z);
          if (!check.ok) return;
          accepted.add(check.record.type);
          // What it accepts it can send, and reads back to the same record.
          roundTrip(toAnswer(check.record));
          assert.deepEqual(checkRecord(check.record, z), check);
        },
      ),
      { numRuns: 5000 },
    );
    assert.ok(accepted.size === 10, `the property reached few types: ${[...accepted].join(', ')}`);
    // Not even when the fields are not text (a JSON body can hold anything).
    const anything = fc.anything();
    fc.assert(
      fc.property(anything, anything, anything, anything, (n, t, l, d) => {
        checkRecord({ name: n, type: t, ttl: l, data: d } as never, zone);
        checkRecord(n as never, zone);
      }),
    );
  });
});

describe('records on the wire', () => {
  it('encode with dns-packet and decode to the same data', () => {
    const cases: [ZoneRecord, unknown][] = [
      [ok('A', '192.0.2.1'), '192.0.2.1'],
      [ok('AAAA', '2001:db8::1'), '2001:db8::1'],
      [ok('CNAME', 'target.example.org'), 'target.example.org'],
      [ok('MX', '10 mail.example.org'), { preference: 10, exchange: 'mail.example.org' }],
      [ok('MX', '0 .'), { preference: 0, exchange: '.' }],
      [
        ok('SRV', '10 5 443 h.example.org', `_x._tcp.${zone}`),
        { priority: 10, weight: 5, port: 443, target: 'h.example.org' },
      ],
      [
        ok('CAA', '0 issue "letsencrypt.org"'),
        { flags: 0, tag: 'issue', value: 'letsencrypt.org', issuerCritical: false },
      ],
      [ok('CAA', '128 issue ";"'), { flags: 128, tag: 'issue', value: ';', issuerCritical: true }],
      [
        ok('TLSA', `3 1 1 ${'0f'.repeat(32)}`, `_443._tcp.${zone}`),
        {
          usage: 3,
          selector: 1,
          matchingType: 1,
          certificate: Buffer.from('0f'.repeat(32), 'hex'),
        },
      ],
    ];
    for (const [record, data] of cases) {
      const decoded = roundTrip(toAnswer(record));
      assert.equal(decoded.type, record.type);
      assert.equal(decoded.name, record.name);
      assert.equal((decoded as { ttl: number }).ttl, 3600);
      assert.deepEqual((decoded as { data: unknown }).data, data, `${record.type} ${record.data}`);
    }
  });

  it('splits long TXT into 255-octet strings, never inside a character', () => {
    const text = `${'a'.repeat(254)}é${'b'.repeat(300)}`;
    const decoded = roundTrip(toAnswer(ok('TXT', text))) as { data: Buffer[] };
    assert.deepEqual(
      decoded.data.map((b) => b.length),
      [254, 255, 47],
    );
    assert.equal(Buffer.concat(decoded.data).toString(), text);
    assert.ok(
      decoded.data.every((b) => Buffer.from(b.toString()).equals(b)),
      'each piece valid UTF-8',
    );
  });

  it('sends HTTPS and SVCB as types 65 and 64 with their RDATA as bytes', () => {
    const https = roundTrip(toAnswer(ok('HTTPS', '1 . alpn=h2'))) as unknown as {
      type: string;
      data: Buffer;
    };
    assert.equal(https.type, 'UNKNOWN_65');
    assert.equal(https.data.toString('hex'), hex('0001 00 0001 0003 026832'));
    const svcb = roundTrip(toAnswer(ok('SVCB', '1 .'))) as unknown as { type: string };
    assert.equal(svcb.type, 'UNKNOWN_64');
  });

  // RFC 9460 Appendix D, the wire form of each presentation-form example.
  it('matches the RFC 9460 test vectors', () => {
    // Figure 2: AliasMode.
    assert.equal(
      rdataHex('HTTPS', '0 foo.example.com.'),
      hex('0000 03666f6f 076578616d706c65 03636f6d 00'),
    );
    // Figure 3: ServiceMode, the owner name as target.
    assert.equal(rdataHex('SVCB', '1 .'), hex('0001 00'));
    // Figure 4: a port.
    assert.equal(
      rdataHex('SVCB', '16 foo.example.com. port=53'),
      hex('0010 03666f6f 076578616d706c65 03636f6d 00  0003 0002 0035'),
    );
    // Figure 7: two quoted IPv6 hints.
    assert.equal(
      rdataHex('SVCB', '1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1"'),
      hex(`0001 03666f6f 076578616d706c65 03636f6d 00
           0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001`),
    );
    // Figure 8: an IPv6 hint in the embedded IPv4 syntax.
    assert.equal(
      rdataHex('SVCB', '1 example.com. ipv6hint="2001:db8:ffff:ffff:ffff:ffff:198.51.100.100"'),
      hex('0001 076578616d706c65 03636f6d 00  0006 0010 20010db8ffffffffffffffffc6336464'),
    );
    // Figure 9: unsorted keys and mandatory list in presentation form, sorted on the wire.
    assert.equal(
      rdataHex(
        'SVCB',
        '16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1',
      ),
      hex(`0010 03666f6f 076578616d706c65 036f7267 00
           0000 0004 0001 0004
           0001 0009 02 6832 05 68332d3139
           0004 0004 c0000201`),
    );
  });

  // RFC 9460 Appendix D.3, with our keys where the RFC uses generic ones.
  it('refuses the RFC 9460 failure cases', () => {
    assert.match(
      error('SVCB', '1 foo.example.com. alpn=h2 alpn=h3'),
      /key 'alpn' appears more than once/,
    );
    for (const key of ['mandatory', 'alpn', 'port', 'ipv4hint', 'ipv6hint']) {
      assert.match(error('SVCB', `1 foo.example.com. ${key}`), new RegExp(`${key} needs a value`));
    }
    assert.match(
      error('SVCB', '1 foo.example.com. no-default-alpn=abc alpn=h2'),
      /no-default-alpn takes no value/,
    );
    assert.match(
      error('SVCB', '1 foo.example.com. mandatory=port'),
      /mandatory lists 'port', but the record has no port/,
    );
    assert.match(
      error('SVCB', '1 foo.example.com. mandatory=mandatory'),
      /mandatory cannot list itself/,
    );
    assert.match(
      error('SVCB', '1 foo.example.com. mandatory=port,port port=53'),
      /mandatory lists 'port' more than once/,
    );
    assert.match(
      error('HTTPS', '1 foo.example.com. no-default-alpn'),
      /no-default-alpn needs an alpn list too/,
    );
  });
});

const corp: Zone = {
  name: 'Corp.Example',
  orgId: 'org-1',
  records: [
    { name: zone, type: 'MX', ttl: 3600, data: '10 mail.corp.example' },
    { name: `www.${zone}`, type: 'A', ttl: 300, data: '192.0.2.10' },
    { name: `www.${zone}`, type: 'A', ttl: 300, data: '192.0.2.11' },
    { name: `www.${zone}`, type: 'AAAA', ttl: 300, data: '2001:db8::10' },
    { name: `www.${zone}`, type: 'HTTPS', ttl: 300, data: '1 . alpn=h2,h3' },
    { name: `intranet.${zone}`, type: 'CNAME', ttl: 600, data: `www.${zone}` },
    { name: `portal.${zone}`, type: 'CNAME', ttl: 600, data: `intranet.${zone}` },
    { name: `saas.${zone}`, type: 'CNAME', ttl: 600, data: 'tenant.saas.example.net' },
    { name: `build.${zone}`, type: 'CNAME', ttl: 600, data: `ci.dev.${zone}` },
    { name: `nowhere.${zone}`, type: 'CNAME', ttl: 600, data: `gone.${zone}` },
    { name: `loop-a.${zone}`, type: 'CNAME', ttl: 600, data: `loop-b.${zone}` },
    { name: `loop-b.${zone}`, type: 'CNAME', ttl: 600, data: `loop-a.${zone}` },
    { name: `_sip._tcp.${zone}`, type: 'SRV', ttl: 3600, data: `10 5 5060 sip.${zone}` },
    { name: `*.apps.${zone}`, type: 'A', ttl: 120, data: '192.0.2.50' },
    { name: `known.apps.${zone}`, type: 'TXT', ttl: 120, data: 'has its own records' },
    { name: `*.alias.${zone}`, type: 'CNAME', ttl: 120, data: `www.${zone}` },
  ],
};
const dev: Zone = {
  name: `dev.${zone}`,
  orgId: 'org-1',
  records: [{ name: `ci.dev.${zone}`, type: 'A', ttl: 60, data: '198.51.100.7' }],
};

function dataOf(answers: dnsPacket.Answer[]): unknown[] {
  return answers.map((a) => ('data' in a ? a.data : null));
}

describe('the authority', () => {
  const authority = new ZoneAuthority([corp, dev]);

  it('loads the zones without problems', () => {
    assert.deepEqual(authority.problems, []);
  });

  it('answers the records of a name, and the right type only', () => {
    const result = authority.lookup(`www.${zone}`, 'A');
    assert.equal(result?.kind, 'answer');
    assert.deepEqual(dataOf(result.answers), ['192.0.2.10', '192.0.2.11']);
    assert.deepEqual(result.authority, []);
    const six = authority.lookup(`www.${zone}`, 'AAAA');
    assert.ok(six?.kind === 'answer');
    assert.deepEqual(dataOf(six.answers), ['2001:db8::10']);
  });

  it('takes the type as dns-packet names it (HTTPS is UNKNOWN_65)', () => {
    for (const type of ['HTTPS', 'UNKNOWN_65', 'unknown_65']) {
      const result = authority.lookup(`www.${zone}`, type);
      assert.ok(result?.kind === 'answer', type);
      assert.equal(result.answers[0]?.type, 'UNKNOWN_65');
    }
  });

  it('compares names without regard to case or the trailing dot', () => {
    const result = authority.lookup('WWW.CoRp.Example.', 'a');
    assert.ok(result?.kind === 'answer');
    assert.equal(result.answers.length, 2);
    assert.equal(authority.zoneOf('Host.DEV.corp.example.'), `dev.${zone}`);
  });

  it('answers NODATA with the SOA when the name has no record of that type', () => {
    const result = authority.lookup(`www.${zone}`, 'MX');
    assert.ok(result?.kind === 'nodata');
    assert.deepEqual(result.answers, []);
    assert.equal(result.authority[0]?.type, 'SOA');
    assert.equal(result.authority[0]?.name, zone);
  });

  it('answers NXDOMAIN with the SOA when the name does not exist', () => {
    const result = authority.lookup(`nope.${zone}`, 'A');
    assert.ok(result?.kind === 'nxdomain');
    const soa = result.authority[0] as dnsPacket.SoaAnswer;
    assert.equal(soa.ttl, 300);
    assert.equal(soa.data.mname, `ns.${zone}`);
    assert.equal(soa.data.rname, `hostmaster.${zone}`);
    assert.equal(soa.data.minimum, 300);
  });

  it('treats a name between records and the apex as existing (NODATA, RFC 8020)', () => {
    assert.equal(authority.lookup(`_tcp.${zone}`, 'A')?.kind, 'nodata');
    assert.equal(authority.lookup(`apps.${zone}`, 'A')?.kind, 'nodata');
  });

  it('answers SOA and NS at the apex', () => {
    const soa = authority.lookup(zone, 'SOA');
    assert.ok(soa?.kind === 'answer');
    assert.equal(soa.answers[0]?.type, 'SOA');
    const ns = authority.lookup(zone, 'NS');
    assert.ok(ns?.kind === 'answer');
    assert.deepEqual(dataOf(ns.answers), [`ns.${zone}`]);
    assert.ok(authority.lookup(zone, 'MX')?.kind === 'answer');
    assert.equal(authority.lookup(`www.${zone}`, 'SOA')?.kind, 'nodata');
  });

  it('gives the SOA a serial that follows the content', () => {
    const serial = (z: Zone) => {
      const result = new ZoneAuthority([z]).lookup(z.name, 'SOA');
      assert.ok(result?.kind === 'answer');
      return (result.answers[0] as dnsPacket.SoaAnswer).data.serial;
    };
    assert.equal(serial(corp), serial({ ...corp, records: [...corp.records].reverse() }));
    assert.notEqual(serial(corp), serial({ ...corp, records: corp.records.slice(1) }));
  });

  it('follows CNAME chains inside the zones, each CNAME in the answer', () => {
    const result = authority.lookup(`portal.${zone}`, 'A');
    assert.ok(result?.kind === 'answer');
    assert.deepEqual(
      result.answers.map((a) => `${a.name} ${a.type}`),
      [`portal.${zone} CNAME`, `intranet.${zone} CNAME`, `www.${zone} A`, `www.${zone} A`],
    );
  });

  it('follows a chain into another internal zone', () => {
    const result = authority.lookup(`build.${zone}`, 'A');
    assert.ok(result?.kind === 'answer');
    assert.deepEqual(dataOf(result.answers), [`ci.dev.${zone}`, '198.51.100.7']);
  });

  it('answers a CNAME query with the CNAME itself', () => {
    const result = authority.lookup(`portal.${zone}`, 'CNAME');
    assert.ok(result?.kind === 'answer');
    assert.deepEqual(dataOf(result.answers), [`intranet.${zone}`]);
  });

  it('keeps the CNAMEs when the chain ends in NXDOMAIN (RFC 6604)', () => {
    const result = authority.lookup(`nowhere.${zone}`, 'A');
    assert.ok(result?.kind === 'nxdomain');
    assert.deepEqual(dataOf(result.answers), [`gone.${zone}`]);
    assert.equal(result.authority[0]?.type, 'SOA');
  });

  it('hands a chain that leaves our zones to the resolver', () => {
    const result = authority.lookup(`saas.${zone}`, 'AAAA');
    assert.ok(result?.kind === 'cname-out');
    assert.equal(result.target, 'tenant.saas.example.net');
    assert.deepEqual(dataOf(result.answers), ['tenant.saas.example.net']);
  });

  it('stops at a loop and at the hop limit', () => {
    const loop = authority.lookup(`loop-a.${zone}`, 'A');
    assert.ok(loop?.kind === 'answer');
    assert.deepEqual(dataOf(loop.answers), [`loop-b.${zone}`, `loop-a.${zone}`]);

    const records = Array.from({ length: 12 }, (_, i) => ({
      name: `c${i}.${zone}`,
      type: 'CNAME' as const,
      ttl: 60,
      data: `c${i + 1}.${zone}`,
    }));
    const long = new ZoneAuthority([{ name: zone, orgId: 'o', records }]).lookup(`c0.${zone}`, 'A');
    assert.ok(long?.kind === 'answer');
    assert.equal(long.answers.length, maxCnameHops);
  });

  it('answers from a wildcard for names that do not exist, with the query name as owner', () => {
    const result = authority.lookup(`Team1.Apps.${zone}`, 'A');
    assert.ok(result?.kind === 'answer');
    assert.deepEqual(
      result.answers.map((a) => [a.name, 'data' in a ? a.data : null]),
      [[`team1.apps.${zone}`, '192.0.2.50']],
    );
    // Deeper names take the closest enclosing wildcard too.
    assert.equal(authority.lookup(`a.b.apps.${zone}`, 'A')?.kind, 'answer');
    // Other types at a wildcard name: NODATA, not NXDOMAIN.
    assert.equal(authority.lookup(`team1.apps.${zone}`, 'MX')?.kind, 'nodata');
    // A name with records of its own is not covered by the wildcard (RFC 4592 §2.2).
    assert.equal(authority.lookup(`known.apps.${zone}`, 'A')?.kind, 'nodata');
    // Nor are names below it: their closest encloser is known.apps, which has no wildcard.
    assert.equal(authority.lookup(`x.known.apps.${zone}`, 'A')?.kind, 'nxdomain');
  });

  it('follows a wildcard CNAME from the query name', () => {
    const result = authority.lookup(`anything.alias.${zone}`, 'A');
    assert.ok(result?.kind === 'answer');
    assert.deepEqual(
      result.answers.map((a) => `${a.name} ${a.type}`),
      [`anything.alias.${zone} CNAME`, `www.${zone} A`, `www.${zone} A`],
    );
  });

  it('lets the most specific zone answer', () => {
    assert.equal(authority.zoneOf(`ci.dev.${zone}`), `dev.${zone}`);
    assert.equal(authority.zoneOf(`www.${zone}`), zone);
    assert.equal(authority.zoneOf('example'), null);
    // corp.example has no record for unknown.dev; dev.corp.example says NXDOMAIN with its own SOA.
    const result = authority.lookup(`unknown.dev.${zone}`, 'A');
    assert.ok(result?.kind === 'nxdomain');
    assert.equal(result.authority[0]?.name, `dev.${zone}`);
  });

  it('returns null for names outside every internal zone', () => {
    assert.equal(authority.lookup('www.example.org', 'A'), null);
    assert.equal(authority.lookup('example', 'A'), null);
    assert.equal(authority.lookup('xcorp.example', 'A'), null);
  });

  it('answers ANY with one HINFO "RFC8482" (RFC 8482 §4.2)', () => {
    const result = authority.lookup(`www.${zone}`, 'ANY');
    assert.ok(result?.kind === 'answer');
    assert.deepEqual(dataOf(result.answers), [{ cpu: 'RFC8482', os: '' }]);
    assert.equal(authority.lookup(`nope.${zone}`, 'ANY')?.kind, 'nxdomain');
  });

  it('builds answers dns-packet encodes, and that nobody can change in place', () => {
    for (const [name, type] of [
      [`www.${zone}`, 'A'],
      [`www.${zone}`, 'HTTPS'],
      [`portal.${zone}`, 'A'],
      [`_sip._tcp.${zone}`, 'SRV'],
      [`x.apps.${zone}`, 'A'],
      [zone, 'SOA'],
      [zone, 'ANY'],
    ] as const) {
      const result = authority.lookup(name, type);
      assert.ok(result && result.kind !== 'cname-out');
      dnsPacket.encode({
        type: 'response',
        answers: result.answers,
        authorities: result.authority,
      });
    }
    const result = authority.lookup(`www.${zone}`, 'A');
    assert.ok(result?.kind === 'answer');
    const first = result.answers[0] as { ttl: number };
    assert.throws(() => {
      first.ttl = 1;
    }, TypeError);
  });
});

describe('zone problems', () => {
  it('reports a CNAME beside other data, records outside the apex and duplicates', () => {
    const problems = checkZone({
      name: zone,
      orgId: 'o',
      records: [
        { name: `www.${zone}`, type: 'CNAME', ttl: 60, data: 'web.example.net' },
        { name: `www.${zone}`, type: 'A', ttl: 60, data: '192.0.2.1' },
        { name: 'www.other.example', type: 'A', ttl: 60, data: '192.0.2.1' },
        { name: `mail.${zone}`, type: 'A', ttl: 60, data: '192.0.2.2' },
        { name: `Mail.${zone}.`, type: 'A', ttl: 60, data: '192.0.2.2' },
        { name: `two.${zone}`, type: 'CNAME', ttl: 60, data: 'a.example.net' },
        { name: `two.${zone}`, type: 'CNAME', ttl: 60, data: 'b.example.net' },
        { name: `ttl.${zone}`, type: 'A', ttl: 60, data: '192.0.2.3' },
        { name: `ttl.${zone}`, type: 'A', ttl: 300, data: '192.0.2.4' },
      ],
    });
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(
      problems[0] ?? '',
      /record 3 \(www\.other\.example A\): .*outside the zone corp\.example/,
    );
    assert.match(problems[1] ?? '', /mail\.corp\.example A 192\.0\.2\.2 appears more than once/);
    assert.match(problems[2] ?? '', /www\.corp\.example has a CNAME and other records \(A\)/);
    assert.match(
      problems[3] ?? '',
      /two\.corp\.example has 2 CNAME records: a name can have only one/,
    );
    assert.match(
      problems[4] ?? '',
      /ttl\.corp\.example A records have different TTLs \(60, 300\).* 60 is served/,
    );
    assert.deepEqual(checkZone(corp), []);
  });

  it('serves what it can of a zone with problems, and says what it left out', () => {
    const authority = new ZoneAuthority([
      {
        name: zone,
        orgId: 'o',
        records: [
          { name: `www.${zone}`, type: 'CNAME', ttl: 60, data: 'web.example.net' },
          { name: `www.${zone}`, type: 'A', ttl: 60, data: '192.0.2.1' },
          { name: `bad.${zone}`, type: 'A', ttl: 60, data: 'not an address' },
        ],
      },
      {
        name: zone,
        orgId: 'other',
        records: [{ name: `www.${zone}`, type: 'A', ttl: 60, data: '203.0.113.9' }],
      },
      { name: `sub.${zone}`, orgId: 'o', records: [] },
      { name: 'not a zone', orgId: 'o', records: [] },
    ]);
    const result = authority.lookup(`www.${zone}`, 'A');
    assert.ok(result?.kind === 'answer');
    assert.deepEqual(
      dataOf(result.answers),
      ['192.0.2.1'],
      'the first zone wins; the A, not the CNAME',
    );
    assert.equal(authority.lookup(`bad.${zone}`, 'A')?.kind, 'nxdomain');
    assert.equal(authority.problems.length, 4, authority.problems.join('\n'));
    assert.match(
      authority.problems.join('\n'),
      /zone corp\.example: record 3 \(bad\.corp\.example A\): A data must be an IPv4/,
    );
    assert.match(authority.problems.join('\n'), /the CNAME is not served/);
    assert.match(
      authority.problems.join('\n'),
      /zone corp\.example is defined more than once: only the first is served/,
    );
    assert.match(
      authority.problems.join('\n'),
      /zone 'not a zone' is not a valid domain name|zone name 'not a zone'/,
    );
  });

  it('reports records hidden by a more specific zone', () => {
    const authority = new ZoneAuthority([
      {
        name: zone,
        orgId: 'o',
        records: [{ name: `host.dev.${zone}`, type: 'A', ttl: 60, data: '192.0.2.1' }],
      },
      dev,
    ]);
    assert.deepEqual(authority.problems, [
      `zone ${zone}: host.dev.${zone} is inside the zone dev.${zone}, which answers for it instead`,
    ]);
    assert.equal(authority.lookup(`host.dev.${zone}`, 'A')?.kind, 'nxdomain');
  });
});

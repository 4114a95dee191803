import assert from 'node:assert/strict';
import { isIP, isIPv6 } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatAddress, parseAddress, parseCidr } from './address.ts';
import { ClientRateLimiter, type RateLimitAction } from './rate-limit.ts';

function clock(start = 1000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

function run(
  limiter: ClientRateLimiter,
  address: string,
  n: number,
  transport: 'udp' | 'tcp' = 'udp',
) {
  const counts: Record<RateLimitAction, number> = { allow: 0, slip: 0, drop: 0 };
  for (let i = 0; i < n; i++) counts[limiter.check(address, transport)] += 1;
  return counts;
}

describe('addresses', () => {
  it('parses IPv4, IPv6 and IPv4-mapped IPv6 (as IPv4)', () => {
    assert.deepEqual([...(parseAddress('192.0.2.7') ?? [])], [192, 0, 2, 7]);
    assert.deepEqual([...(parseAddress('::ffff:192.0.2.7') ?? [])], [192, 0, 2, 7]);
    assert.deepEqual([...(parseAddress('::ffff:c000:0207') ?? [])], [192, 0, 2, 7]);
    assert.equal(
      formatAddress(parseAddress('2001:DB8:0:0:1::1') ?? new Uint8Array()),
      '2001:db8::1:0:0:1',
    );
    assert.equal(formatAddress(parseAddress('fe80::1%eth0') ?? new Uint8Array()), 'fe80::1');
    assert.equal(formatAddress(parseAddress('::') ?? new Uint8Array()), '::');
    assert.equal(formatAddress(parseAddress('1:0:0:2:0:0:0:3') ?? new Uint8Array()), '1:0:0:2::3');
    assert.equal(
      formatAddress(parseAddress('1:2:3:4:5:6:7:8') ?? new Uint8Array()),
      '1:2:3:4:5:6:7:8',
    );
    for (const bad of [
      '',
      '1.2.3',
      '1.2.3.256',
      '01.2.3.4',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '12345::',
      'x::1',
      '1.2.3.4::',
    ]) {
      assert.equal(parseAddress(bad), null, bad);
    }
  });

  it('round-trips every IPv6 address Node accepts, in RFC 5952 form', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const bytes = parseAddress(text);
        assert.ok(bytes, text);
        if (bytes.length === 16) {
          const formatted = formatAddress(bytes);
          assert.ok(isIPv6(formatted), formatted);
          assert.deepEqual(parseAddress(formatted), bytes);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('accepts exactly what Node accepts, also for near-miss strings', () => {
    const chars = [...'0123456789abcdefABCDEF:.'];
    const agrees = (text: string) =>
      assert.equal(parseAddress(text) !== null, isIP(text) !== 0, JSON.stringify(text));
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...chars), maxLength: 45 }), agrees), {
      numRuns: 5000,
    });
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV6(), fc.ipV4()),
        fc.nat(45),
        fc.constantFrom(...chars, ''),
        fc.boolean(),
        (text, at, c, insert) => {
          agrees(text);
          const p = at % (text.length + 1);
          agrees(text.slice(0, p) + c + text.slice(insert ? p : p + 1));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('parses networks, clearing host bits', () => {
    const net = parseCidr('10.1.2.3/8');
    assert.deepEqual([...(net?.bytes ?? [])], [10, 0, 0, 0]);
    assert.equal(net?.prefix, 8);
    assert.equal(parseCidr('::ffff:10.0.0.0/104')?.prefix, 8);
    assert.equal(
      formatAddress(parseCidr('2001:db8:abcd:12ff::/52')?.bytes ?? new Uint8Array()),
      '2001:db8:abcd:1000::',
    );
    assert.equal(parseCidr('10.0.0.0/33'), null);
    assert.equal(parseCidr('10.0.0.0/x'), null);
  });
});

describe('client rate limiter', () => {
  it('allows the burst, then the sustained rate', () => {
    const c = clock();
    const limiter = new ClientRateLimiter({ queriesPerSecond: 10, slip: 0 }, c.now);
    assert.deepEqual(run(limiter, '192.0.2.1', 25), { allow: 20, slip: 0, drop: 5 });
    c.advance(500); // 5 tokens back
    assert.deepEqual(run(limiter, '192.0.2.1', 6), { allow: 5, slip: 0, drop: 1 });
    c.advance(60_000); // refills to the burst, not beyond
    assert.deepEqual(run(limiter, '192.0.2.1', 21), { allow: 20, slip: 0, drop: 1 });
  });

  it('slips every Nth refused UDP query, never a stream one', () => {
    const c = clock();
    const limiter = new ClientRateLimiter({ queriesPerSecond: 1, burst: 1, slip: 2 }, c.now);
    assert.equal(limiter.check('192.0.2.1', 'udp'), 'allow');
    assert.deepEqual(
      Array.from({ length: 4 }, () => limiter.check('192.0.2.1', 'udp')),
      ['drop', 'slip', 'drop', 'slip'],
    );
    for (const transport of ['tcp', 'dot', 'doh'] as const) {
      assert.deepEqual(
        Array.from({ length: 4 }, () => limiter.check('192.0.2.1', transport)),
        ['drop', 'drop', 'drop', 'drop'],
      );
    }
    const always = new ClientRateLimiter({ queriesPerSecond: 1, burst: 1, slip: 1 }, c.now);
    assert.deepEqual(run(always, '192.0.2.9', 4), { allow: 1, slip: 3, drop: 0 });
  });

  it('keeps a bucket per IPv4 address, per IPv6 /56, mapped addresses as IPv4', () => {
    const c = clock();
    const limiter = new ClientRateLimiter({ queriesPerSecond: 1, burst: 2, slip: 0 }, c.now);
    run(limiter, '192.0.2.1', 2);
    assert.equal(limiter.check('::ffff:192.0.2.1', 'udp'), 'drop', 'the same client');
    assert.equal(limiter.check('192.0.2.2', 'udp'), 'allow', 'a neighbour');
    run(limiter, '2001:db8:0:100::1', 2);
    assert.equal(limiter.check('2001:db8:0:1ff:ffff::9', 'udp'), 'drop', 'rotating within the /56');
    assert.equal(limiter.check('2001:db8:0:200::1', 'udp'), 'allow', 'another /56');
  });

  it('takes other prefix lengths', () => {
    const c = clock();
    const limiter = new ClientRateLimiter(
      { queriesPerSecond: 1, burst: 1, ipv4Prefix: 24, ipv6Prefix: 64 },
      c.now,
    );
    assert.equal(limiter.check('192.0.2.1', 'tcp'), 'allow');
    assert.equal(limiter.check('192.0.2.200', 'tcp'), 'drop');
    assert.equal(limiter.check('2001:db8::1', 'tcp'), 'allow');
    assert.equal(limiter.check('2001:db8:0:1::1', 'tcp'), 'allow');
    const odd = new ClientRateLimiter({ queriesPerSecond: 1, burst: 1, ipv6Prefix: 52 }, c.now);
    assert.equal(odd.check('2001:db8:0:1000::1', 'tcp'), 'allow');
    assert.equal(odd.check('2001:db8:0:1fff::1', 'tcp'), 'drop', 'same /52');
    assert.equal(odd.check('2001:db8:0:2000::1', 'tcp'), 'allow', 'next /52');
  });

  it('never limits exempt networks, and refuses a bad CIDR', () => {
    const c = clock();
    const limiter = new ClientRateLimiter({ queriesPerSecond: 1, burst: 1 }, c.now);
    limiter.exempt(['10.0.0.0/8', '2001:db8:ffff::/48']);
    assert.deepEqual(run(limiter, '10.9.8.7', 100), { allow: 100, slip: 0, drop: 0 });
    assert.deepEqual(run(limiter, '::ffff:10.9.8.7', 100), { allow: 100, slip: 0, drop: 0 });
    assert.deepEqual(run(limiter, '2001:db8:ffff:1::1', 100), { allow: 100, slip: 0, drop: 0 });
    assert.equal(limiter.tracked, 0);
    assert.throws(() => limiter.exempt(['10.0.0.0/99']), TypeError);
    limiter.exempt([]);
    assert.equal(run(limiter, '10.9.8.7', 2).allow, 1);
  });

  it('bounds memory, forgetting the least recently seen network', () => {
    const c = clock();
    const limiter = new ClientRateLimiter(
      { queriesPerSecond: 1, burst: 1, maxTracked: 3, slip: 0 },
      c.now,
    );
    limiter.check('192.0.2.1', 'udp'); // the abuser, now out of tokens
    limiter.check('192.0.2.2', 'udp');
    limiter.check('192.0.2.1', 'udp'); // recent again
    limiter.check('192.0.2.3', 'udp');
    limiter.check('192.0.2.4', 'udp'); // evicts .2, not .1
    assert.equal(limiter.tracked, 3);
    assert.equal(limiter.check('192.0.2.1', 'udp'), 'drop');
    assert.equal(limiter.check('192.0.2.2', 'udp'), 'allow');
  });

  it('turns off with a rate of 0, and tolerates addresses it cannot parse', () => {
    const off = new ClientRateLimiter({ queriesPerSecond: 0 });
    assert.deepEqual(run(off, '192.0.2.1', 1000), { allow: 1000, slip: 0, drop: 0 });
    const c = clock();
    const limiter = new ClientRateLimiter({ queriesPerSecond: 1, burst: 1, slip: 0 }, c.now);
    assert.deepEqual(run(limiter, 'not-an-address', 2), { allow: 1, slip: 0, drop: 1 });
  });

  it('defaults to 200 per second with a burst of 400', () => {
    const c = clock();
    const limiter = new ClientRateLimiter({}, c.now);
    assert.equal(run(limiter, '192.0.2.1', 500).allow, 400);
    c.advance(1000);
    assert.equal(run(limiter, '192.0.2.1', 500).allow, 200);
  });
});

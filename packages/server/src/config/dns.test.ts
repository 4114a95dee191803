import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from './schema.ts';

const issues = (input: unknown) => {
  const parsed = configSchema.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('config: dns', () => {
  it('is off by default, with loopback and private ranges allowed', () => {
    const parsed = configSchema.parse({});
    assert.equal(parsed.dns.enabled, false);
    assert.ok(parsed.dns.allowedClientRanges.includes('127.0.0.0/8'));
  });

  it('refuses plaintext upstreams, saying why', () => {
    for (const url of [
      'udp://9.9.9.9',
      'dns://9.9.9.9',
      'http://dns.example/dns-query',
      '9.9.9.9',
    ]) {
      const found = issues({ dns: { enabled: true, upstreams: [{ url }] } });
      assert.ok(
        found.some(
          (m) => m.startsWith('dns.upstreams.0.url') && /plaintext DNS never leaves/.test(m),
        ),
        `${url}: ${found.join('; ')}`,
      );
    }
  });

  it('wants an upstream or airGapped when enabled, not both', () => {
    assert.ok(issues({ dns: { enabled: true } }).some((m) => m.startsWith('dns.upstreams')));
    assert.deepEqual(issues({ dns: { enabled: true, airGapped: true } }), []);
    assert.ok(
      issues({
        dns: { enabled: true, airGapped: true, upstreams: [{ url: 'tls://9.9.9.9' }] },
      }).some((m) => m.startsWith('dns.airGapped')),
    );
  });

  it('refuses ranges with host bits, unknown keys, and a sinkhole without an address', () => {
    assert.ok(
      issues({ dns: { allowedClientRanges: ['10.1.2.3/8'] } }).some((m) =>
        /bits set after its prefix/.test(m),
      ),
    );
    assert.ok(issues({ dns: { upstream: [] } }).length > 0);
    assert.ok(
      issues({
        dns: { enabled: true, airGapped: true, defaultPolicy: { answer: 'sinkhole' } },
      }).some((m) => m.startsWith('dns.defaultPolicy.answer')),
    );
    assert.ok(
      issues({ dns: { lists: [{ id: 'a', source: 'x', format: 'csv', category: 'ads' }] } }).some(
        (m) => m.startsWith('dns.lists.0.format'),
      ),
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { normalizeName } from '../names.ts';
import { DomainMatcher } from './matcher.ts';
import { NameHashSet, newSuffixes, suffixesOf } from './name-set.ts';
import { type ListFormat, parseList, readListInSlices } from './parse.ts';

function matcherOf(text: string, format: ListFormat): DomainMatcher {
  const m = new DomainMatcher();
  m.add(parseList(text, format).rules, format);
  return m;
}

describe('domain names', () => {
  it('normalises case, the trailing dot and IDN to one spelling', () => {
    assert.equal(normalizeName('WWW.Example.COM.'), 'www.example.com');
    assert.equal(normalizeName('bücher.example'), 'xn--bcher-kva.example');
    assert.equal(normalizeName('_dmarc.example.org'), '_dmarc.example.org');
  });

  it('refuses what is not a name: empty labels, long labels, bad characters', () => {
    for (const bad of ['', '.', 'a..b', `${'a'.repeat(64)}.com`, 'exa mple.com', '-a.com', 'a/b']) {
      assert.equal(normalizeName(bad), null, bad);
    }
    assert.equal(normalizeName(`${'a.'.repeat(127)}a`), null, 'over 253 characters');
  });
});

describe('block lists', () => {
  it('hosts files block the exact names, never the machine’s own', () => {
    const list = parseList(
      [
        '# a comment',
        '127.0.0.1 localhost',
        '0.0.0.0 ads.example.com tracker.example.net # inline comment',
        '::1 ip6-localhost',
        '0.0.0.0',
        'not-an-address ads.example.org',
      ].join('\n'),
      'hosts',
    );
    assert.deepEqual(
      list.rules.map((r) => (r.match === 'regex' ? r.source : r.name)),
      ['ads.example.com', 'tracker.example.net'],
    );
    assert.equal(list.skipped, 2);
    const m = new DomainMatcher();
    m.add(list.rules, 'hosts');
    assert.equal(m.check('ads.example.com').action, 'block');
    assert.equal(m.check('sub.ads.example.com').action, 'none', 'hosts entries are exact');
    assert.equal(m.check('localhost').action, 'none');
  });

  it('plain domain lists block the name and everything under it', () => {
    const m = matcherOf('malware.example\n*.wild.example\n# comment\n\nbad name here', 'domains');
    assert.equal(m.check('malware.example').action, 'block');
    assert.equal(m.check('a.b.malware.example').action, 'block');
    assert.equal(m.check('notmalware.example').action, 'none', 'a suffix is not a parent');
    assert.equal(m.check('x.wild.example').action, 'block');
    assert.equal(m.check('wild.example').action, 'none', 'a wildcard is strictly under');
  });

  it('Adblock rules: ||x^ blocks, @@||x^ excepts, /regex/ matches, other syntax is skipped', () => {
    const list = parseList(
      [
        '! Title: test list',
        '[Adblock Plus 2.0]',
        '||doubleclick.example^',
        '||ads.example^$important',
        '@@||good.doubleclick.example^',
        '/^track[0-9]+\\./',
        '||*.cdn.example^',
        '##.banner',
        '||example.org/path^',
        '||third.example^$third-party',
        '/[unclosed/',
      ].join('\n'),
      'adblock',
    );
    assert.equal(list.skipped, 4, JSON.stringify(list.samples));
    assert.match(list.samples.map((s) => s.reason).join(' | '), /third-party/);
    const m = new DomainMatcher();
    m.add(list.rules, 'adblock');
    assert.equal(m.check('doubleclick.example').action, 'block');
    assert.equal(m.check('x.doubleclick.example').action, 'block');
    assert.equal(m.check('good.doubleclick.example').action, 'allow');
    assert.equal(m.check('deep.good.doubleclick.example').action, 'allow');
    assert.equal(m.check('ads.example').action, 'block');
    assert.equal(m.check('track42.example.com').action, 'block');
    assert.equal(m.check('tracking.example.com').action, 'none');
    assert.equal(m.check('a.cdn.example').action, 'block');
    assert.equal(m.check('cdn.example').action, 'none');
  });

  it('RPZ: NXDOMAIN, NODATA, drop and local data block; passthru allows; origins are stripped', () => {
    const zone = [
      '$TTL 300',
      '$ORIGIN rpz.example.org.',
      '@ SOA localhost. root.localhost. 1 3600 600 86400 300',
      '  NS localhost.',
      'bad.example CNAME .',
      '*.bad.example CNAME .',
      'nodata.example 300 IN CNAME *.',
      'drop.example CNAME rpz-drop.',
      'sink.example A 0.0.0.0',
      'ok.bad.example CNAME rpz-passthru.',
      'absolute.example.rpz.example.org. CNAME .',
      'redirect.example CNAME walled.garden.example.',
      'weird.example TXT "x"',
    ].join('\n');
    const list = parseList(zone, 'rpz');
    assert.equal(list.skipped, 2, JSON.stringify(list.samples));
    const m = new DomainMatcher();
    m.add(list.rules, 'rpz');
    for (const name of [
      'bad.example',
      'x.bad.example',
      'nodata.example',
      'drop.example',
      'sink.example',
      'absolute.example',
    ]) {
      assert.equal(m.check(name).action, 'block', name);
    }
    assert.equal(m.check('ok.bad.example').action, 'allow');
    assert.equal(m.check('sub.nodata.example').action, 'none', 'RPZ owners are exact');
  });

  it('garbage never throws: every line is a rule, a skip, or nothing', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 400 }),
        fc.constantFrom<ListFormat>('hosts', 'domains', 'adblock', 'rpz'),
        (text, format) => {
          const parsed = parseList(text, format);
          assert.ok(parsed.skipped >= 0 && parsed.samples.length <= 20);
          const m = new DomainMatcher();
          m.add(parsed.rules, format);
          m.check('example.com');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('allow rules win over block rules from any list, and each verdict names its rule', () => {
    const m = new DomainMatcher();
    m.add(parseList('tracker.example', 'domains').rules, 'trackers');
    m.add(parseList('@@||cdn.tracker.example^', 'adblock').rules, 'allow-list');
    assert.deepEqual(m.check('x.tracker.example'), {
      action: 'block',
      rule: { match: 'subtree', name: 'tracker.example', list: 'trackers' },
    });
    assert.deepEqual(m.check('img.cdn.tracker.example'), {
      action: 'allow',
      rule: { match: 'subtree', name: 'cdn.tracker.example', list: 'allow-list' },
    });
    assert.equal(m.check('not a name').action, 'none');
  });

  it('a hundred thousand rules: every listed name and its subdomains block, others do not', () => {
    const names = Array.from({ length: 100_000 }, (_, i) => `host${i}.blocked${i % 97}.example`);
    const m = matcherOf(names.join('\n'), 'domains');
    assert.equal(m.size, names.length);
    for (let i = 0; i < names.length; i += 997) {
      assert.equal(m.check(`www.${names[i]}`).action, 'block');
      assert.equal(m.check(`host${i}.allowed.example`).action, 'none');
    }
  });
});

describe('name fingerprint set', () => {
  it('holds exactly the names added, across growth', () => {
    const set = new NameHashSet();
    for (let i = 0; i < 50_000; i++) set.add(`host${i}.example.com`);
    assert.equal(set.size, 50_000);
    set.add('host7.example.com');
    assert.equal(set.size, 50_000, 'a name added twice is there once');
    for (let i = 0; i < 50_000; i += 997) assert.ok(set.has(`host${i}.example.com`));
    for (let i = 50_000; i < 60_000; i++) assert.ok(!set.has(`host${i}.example.com`));
    assert.ok(!set.has('example.com'));
  });

  it('gives every suffix of a name the fingerprint of that suffix on its own', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z0-9_-]{1,12}$/), { minLength: 1, maxLength: 6 }),
        (labels) => {
          const name = labels.join('.');
          const s = suffixesOf(name, newSuffixes());
          assert.equal(s.count, labels.length);
          for (let k = 0; k < s.count; k++) {
            const alone = suffixesOf(name.slice(s.start[k] ?? 0), newSuffixes());
            assert.equal(s.h1[k], alone.h1[0]);
            assert.equal(s.h2[k], alone.h2[0]);
            assert.equal(name.slice(s.start[k] ?? 0), labels.slice(k).join('.'));
          }
        },
      ),
    );
  });
});

describe('reading a big list', () => {
  it('gives the event loop back between slices and reads the same rules as in one go', async () => {
    const text = Array.from({ length: 20_000 }, (_, i) => `name${i}.example.com`).join('\n');
    let turns = 0;
    let reading = true;
    const tick = () => {
      turns += 1;
      if (reading) setImmediate(tick);
    };
    setImmediate(tick);
    const sliced: string[] = [];
    const result = await readListInSlices(
      text,
      'domains',
      (rule) => {
        if (rule.match !== 'regex') sliced.push(rule.name);
      },
      1000,
    );
    reading = false;
    assert.ok(turns >= 10, `other work ran while the list was read (${turns} turns)`);
    const whole = parseList(text, 'domains').rules.map((r) => (r.match === 'regex' ? '' : r.name));
    assert.deepEqual(sliced, whole);
    assert.equal(result.skipped, 0);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CanonicalJsonError, canonicalJson, canonicalJsonString } from './jcs.ts';

function ieee754(hex: string): number {
  return Buffer.from(hex, 'hex').readDoubleBE(0);
}

describe('JCS: RFC 8785 examples', () => {
  test('§3.2.2 / §3.2.4: the complete example, as string and as UTF-8 bytes', () => {
    // Parsed from the RFC's input text, so that number parsing is as a JSON reader does it.
    const input = JSON.parse(
      '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n' +
        '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n' +
        '  "literals": [null, true, false]\n}',
    );
    const expected =
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
      '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}';
    assert.equal(canonicalJsonString(input), expected);
    const bytes = canonicalJson(input);
    assert.ok(bytes instanceof Uint8Array);
    // §3.2.4 shows the euro sign as e2 82 ac and \u000f as the six bytes 5c 75 30 30 30 66.
    assert.equal(Buffer.from(bytes).toString('hex').slice(0, 8), '7b226c69');
    assert.ok(Buffer.from(bytes).toString('hex').includes('e282ac245c7530303066'));
    assert.deepEqual(Buffer.from(bytes), Buffer.from(expected, 'utf8'));
  });

  test('§3.2.3: property sorting by UTF-16 code units', () => {
    const input = JSON.parse(
      '{"\\u20ac":"Euro Sign","\\r":"Carriage Return","\\ufb33":"Hebrew Letter Dalet With Dagesh",' +
        '"1":"One","\\ud83d\\ude00":"Emoji: Grinning Face","\\u0080":"Control",' +
        '"\\u00f6":"Latin Small Letter O With Diaeresis"}',
    );
    assert.equal(
      canonicalJsonString(input),
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  test('Appendix B: number serialisation', () => {
    const vectors: [string, string][] = [
      ['0000000000000000', '0'],
      ['8000000000000000', '0'], // minus zero
      ['0000000000000001', '5e-324'],
      ['8000000000000001', '-5e-324'],
      ['7fefffffffffffff', '1.7976931348623157e+308'],
      ['ffefffffffffffff', '-1.7976931348623157e+308'],
      ['4340000000000000', '9007199254740992'],
      ['c340000000000000', '-9007199254740992'],
      ['4430000000000000', '295147905179352830000'],
      ['44b52d02c7e14af5', '9.999999999999997e+22'],
      ['44b52d02c7e14af6', '1e+23'],
      ['44b52d02c7e14af7', '1.0000000000000001e+23'],
      ['444b1ae4d6e2ef4e', '999999999999999700000'],
      ['444b1ae4d6e2ef4f', '999999999999999900000'],
      ['444b1ae4d6e2ef50', '1e+21'],
      ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
      ['3eb0c6f7a0b5ed8d', '0.000001'],
      ['41b3de4355555553', '333333333.3333332'],
      ['41b3de4355555554', '333333333.33333325'],
      ['41b3de4355555555', '333333333.3333333'],
      ['41b3de4355555556', '333333333.3333334'],
      ['41b3de4355555557', '333333333.33333343'],
      ['becbf647612f3696', '-0.0000033333333333333333'],
      ['43143ff3c1cb0959', '1424953923781206.2'], // round to even
    ];
    for (const [hex, want] of vectors) {
      assert.equal(canonicalJsonString(ieee754(hex)), want, hex);
      assert.equal(canonicalJsonString([ieee754(hex)]), `[${want}]`, hex);
    }
    // Appendix B: NaN and Infinity have no JSON form and must be errors.
    assert.throws(() => canonicalJsonString(ieee754('7fffffffffffffff')), CanonicalJsonError);
    assert.throws(() => canonicalJsonString(ieee754('7ff0000000000000')), CanonicalJsonError);
  });

  test('cyberphone/json-canonicalization testdata "weird.json"', () => {
    const input = JSON.parse(
      '{"\\u20ac":"Euro Sign","1":"One","\\u0080":"Control\\u007f","\\ud83d\\ude02":"Smiley",' +
        '"\\u00f6":"Latin Small Letter O With Diaeresis","\\ufb33":"Hebrew Letter Dalet With Dagesh",' +
        '"</script>":"Browser Challenge"}',
    );
    assert.equal(
      canonicalJsonString(input),
      '{"1":"One","</script>":"Browser Challenge","\u0080":"Control\u007f","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude02":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });

  test('escaping: only the JSON-mandated escapes, lowercase hex for other controls', () => {
    assert.equal(
      canonicalJsonString('\b\t\n\f\r"\\/\u0000\u001f\u007f\u2028'),
      '"\\b\\t\\n\\f\\r\\"\\\\/\\u0000\\u001f\u007f\u2028"',
    );
  });

  test('nested objects sort recursively; arrays keep order; whitespace is gone', () => {
    assert.equal(
      canonicalJsonString({ b: [3, { z: 1, a: [] }, 1], a: { y: null, x: {} } }),
      '{"a":{"x":{},"y":null},"b":[3,{"a":[],"z":1},1]}',
    );
    assert.equal(
      canonicalJsonString(Object.assign(Object.create(null), { b: 1, a: 2 })),
      '{"a":2,"b":1}',
    );
  });
});

describe('JCS: values JSON cannot represent are refused', () => {
  const refuses = (value: unknown, path: string, pattern: RegExp) => {
    assert.throws(
      () => canonicalJson(value),
      (err: unknown) =>
        err instanceof CanonicalJsonError && err.path === path && pattern.test(err.message),
    );
  };

  test('undefined, NaN, Infinity, BigInt, functions, symbols', () => {
    refuses(undefined, '$', /undefined/);
    refuses({ a: undefined }, '$.a', /undefined/);
    refuses([1, undefined], '$[1]', /undefined/);
    refuses({ n: Number.NaN }, '$.n', /NaN/);
    refuses({ n: [Number.POSITIVE_INFINITY] }, '$.n[0]', /Infinity/);
    refuses({ n: Number.NEGATIVE_INFINITY }, '$.n', /-Infinity/);
    refuses({ big: 1n }, '$.big', /BigInt/);
    refuses({ f: () => 1 }, '$.f', /function/);
    refuses({ s: Symbol('x') }, '$.s', /symbol/);
    refuses({ 'odd key': { x: 1n } }, '$["odd key"].x', /BigInt/);
  });

  test('non-plain objects, toJSON, symbol keys, sparse arrays, cycles, lone surrogates', () => {
    refuses({ when: new Date(0) }, '$.when', /class Date/);
    refuses({ bytes: new Uint8Array(2) }, '$.bytes', /class Uint8Array/);
    refuses(new Map(), '$', /class Map/);
    refuses({ toJSON: () => 'x' }, '$', /toJSON/);
    refuses({ [Symbol('k')]: 1 }, '$', /symbol keys/);
    // biome-ignore lint/suspicious/noSparseArray: the hole is the point
    refuses([1, , 3], '$[1]', /sparse/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    refuses(cyclic, '$.self', /circular/);
    refuses({ s: 'a\ud800b' }, '$.s', /lone surrogate/);
    refuses({ '\udc00': 1 }, '$', /lone surrogate/);
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    assert.throws(() => canonicalJson(deep), /nested deeper/);
  });

  test('a shared (non-cyclic) sub-object is fine', () => {
    const shared = { k: 1 };
    assert.equal(canonicalJsonString({ a: shared, b: shared }), '{"a":{"k":1},"b":{"k":1}}');
  });
});

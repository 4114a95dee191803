import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';

// CONVENTIONS §1 and §12, enforced: this package runs in browsers, imports
// nothing of ours, and keeps raw-key primitives in hazardous/.
const src = import.meta.dirname;
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
const sources = files(src).filter((f) => !f.endsWith('.test.ts'));

/** Code without comments, so prose that mentions `Buffer` or `hazardous/` does not count. */
const stripComments = (code: string): string =>
  code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

function importsOf(code: string): string[] {
  const forms = [
    /(?:import|export)\s[^'"]*?from\s+'([^']+)'/g, // import … from '…', export … from '…'
    /import\s+'([^']+)'/g, // side-effect import
    /import\(\s*'([^']+)'\s*\)/g, // dynamic import
  ];
  return forms.flatMap((re) => [...code.matchAll(re)].map((m) => m[1] ?? ''));
}

describe('package boundaries', () => {
  test('source imports only itself and ts-mls: no node:, no @bulwark/*, no Buffer or process', () => {
    assert.ok(sources.length > 10);
    for (const file of sources) {
      const code = stripComments(readFileSync(file, 'utf8'));
      const name = relative(src, file);
      for (const spec of importsOf(code)) {
        assert.ok(
          spec.startsWith('./') ||
            spec.startsWith('../') ||
            spec === 'ts-mls' ||
            spec.startsWith('ts-mls/'),
          `${name} imports ${spec}`,
        );
      }
      assert.ok(!/\bBuffer\b/.test(code), `${name} uses Buffer`);
      assert.ok(!/\bprocess\./.test(code), `${name} uses process`);
      assert.ok(!/\brequire\(/.test(code), `${name} uses require`);
    }
  });

  test('hazardous primitives are not part of the public API, and each says what must hold', () => {
    const index = importsOf(readFileSync(join(src, 'index.ts'), 'utf8'));
    assert.ok(index.length > 5);
    assert.ok(!index.some((spec) => spec.includes('hazardous')), 'index.ts re-exports hazardous/');
    for (const file of files(join(src, 'hazardous'))) {
      const code = readFileSync(file, 'utf8');
      for (const m of code.matchAll(/export (?:async )?function (\w+)/g)) {
        const before = code.slice(0, m.index);
        const doc = before.slice(before.lastIndexOf('/**'));
        assert.match(
          doc,
          /Must hold:/,
          `${relative(src, file)}: ${m[1]} has no "Must hold" comment`,
        );
        assert.doesNotMatch(doc, /\*\/[\s\S]*\*\//, `${m[1]}: comment is not directly above`);
      }
    }
  });

  test('dependencies are pinned exactly', () => {
    const pkg = JSON.parse(readFileSync(join(src, '..', 'package.json'), 'utf8'));
    assert.deepEqual(pkg.dependencies, { '@hpke/hybridkem-x-wing': '0.7.0', 'ts-mls': '1.6.4' });
    assert.deepEqual(pkg.exports, { '.': './src/index.ts' });
  });
});

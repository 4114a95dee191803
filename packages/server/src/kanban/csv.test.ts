import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csvCell, csvLine } from './csv.ts';

describe('CSV export cells', () => {
  it('quotes what must be quoted (RFC 4180)', () => {
    assert.equal(csvCell('plain'), 'plain');
    assert.equal(csvCell('a,b'), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell('two\nlines'), '"two\nlines"');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(3.5), '3.5');
    assert.equal(csvLine(['a', 'b,c']), 'a,"b,c"\r\n');
  });

  it('defuses spreadsheet formulas', () => {
    for (const evil of ['=1+1', '+SUM(A1)', '-2+3', '@cmd', '\tx', '\rx']) {
      const cell = csvCell(evil);
      assert.ok(
        cell.startsWith("'") || cell.startsWith('"\''),
        `${JSON.stringify(evil)} → ${cell}`,
      );
    }
    assert.equal(csvCell('=HYPERLINK("x")'), '"\'=HYPERLINK(""x"")"');
  });
});

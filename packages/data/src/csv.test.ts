import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv.js';

describe('parseCsv', () => {
  it('splits a header and rows, with LF or CRLF line ends and a trailing newline', () => {
    for (const end of ['\n', '\r\n']) {
      const table = parseCsv(['a,b', '1,2', '3,4', ''].join(end), 'x.csv');
      expect(table.header).toEqual(['a', 'b']);
      expect(table.rows).toEqual([
        { line: 2, values: ['1', '2'] },
        { line: 3, values: ['3', '4'] },
      ]);
    }
  });

  it('reads quoted fields holding commas, doubled quotes and line breaks', () => {
    const text = 'path,name\n"a,b.png","say ""hi"""\n"multi\nline.png",x\nlast.png,y';
    const table = parseCsv(text, 'x.csv');
    expect(table.rows.map((row) => row.values)).toEqual([
      ['a,b.png', 'say "hi"'],
      ['multi\nline.png', 'x'],
      ['last.png', 'y'],
    ]);
    // A record's line is where it starts, even after a quoted line break.
    expect(table.rows.map((row) => row.line)).toEqual([2, 3, 5]);
  });

  it('ignores blank lines and a byte-order mark, and trims header names', () => {
    const table = parseCsv('\uFEFFpath , label\n\na.png,1\n\n', 'x.csv');
    expect(table.header).toEqual(['path', 'label']);
    expect(table.rows).toEqual([{ line: 3, values: ['a.png', '1'] }]);
  });

  it('names the file and line of a row with the wrong number of fields', () => {
    expect(() => parseCsv('a,b\n1,2\n3\n', 'labels.csv')).toThrow(
      'labels.csv line 3: 1 fields, but the header has 2',
    );
  });

  it('refuses an empty file and a quote that is never closed', () => {
    expect(() => parseCsv('', 'empty.csv')).toThrow(/empty\.csv is empty/);
    expect(() => parseCsv('a,b\n"1,2\n', 'open.csv')).toThrow(/open\.csv line 2: a quoted field/);
  });
});

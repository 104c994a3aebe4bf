import { describe, expect, it } from 'vitest';
import { escapeHtml, html, jsonForScript, query, SafeHtml } from './html.js';

describe('html', () => {
  it('escapes every interpolated string, in text and attributes', () => {
    const evil = `<script>alert("x")</script>&'`;
    expect(html`<a title="${evil}">${evil}</a>`.value).toBe(
      '<a title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;</a>',
    );
  });

  it('keeps nested html as is and escapes the strings in arrays', () => {
    const items = ['<b>', 'ok'].map((text) => html`<li>${text}</li>`);
    expect(html`<ul>${items}${['<i>']}</ul>`.value).toBe(
      '<ul><li>&lt;b&gt;</li><li>ok</li>&lt;i&gt;</ul>',
    );
  });

  it('writes numbers as text and leaves out false, null and undefined', () => {
    expect(html`${0}|${1.5}|${false}|${null}|${undefined}`.value).toBe('0|1.5|||');
  });

  it('escapes the five characters of HTML', () => {
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });
});

describe('jsonForScript', () => {
  it('cannot close the script element and parses back to the value', () => {
    const value = { trial: '</script><script>alert(1)</script>', note: '<!-- & \u2028', n: 1 };
    const text = jsonForScript(value).value;
    expect(text).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('writes NaN and infinities as null', () => {
    expect(jsonForScript({ a: Number.NaN, b: [Number.POSITIVE_INFINITY, 2] }).value).toBe(
      '{"a":null,"b":[null,2]}',
    );
  });
});

describe('query', () => {
  it('percent-encodes values and leaves out undefined ones', () => {
    expect(query({ a: 'x&y=<z>', b: undefined, c: 2 })).toBe('?a=x%26y%3D%3Cz%3E&c=2');
    expect(query({})).toBe('');
    expect(new SafeHtml('<b>').toString()).toBe('<b>');
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HelmTemplateError, renderChart, renderTemplate } from './helm-template.js';

describe('renderTemplate', () => {
  it('prints values, the release and the chart; a missing value prints nothing', () => {
    const text =
      '{{ .Values.name }}/{{ .Release.Name }}/{{ .Release.Namespace }}/' +
      '{{ .Chart.Name }}-{{ .Chart.Version }}-{{ .Chart.AppVersion }}/{{ .Values.missing }}.';
    expect(
      renderTemplate(text, {
        values: { name: 'x' },
        release: { name: 'r', namespace: 'ns' },
        chart: { name: 'c', version: '1.2.3', appVersion: '4.5' },
      }),
    ).toBe('x/r/ns/c-1.2.3-4.5/.');
  });

  it('trims the whitespace on the side of a dash, newlines included', () => {
    expect(renderTemplate('a:\n  {{- " b" }}\nc: {{ "d" -}}\n\n  e')).toBe('a: b\nc: de');
  });

  it('drops comments, trimmed or not', () => {
    expect(renderTemplate('a{{/* one */}}b\n{{- /* two\nlines */ -}}\nc')).toBe('abc');
  });

  it('chooses the branch of if, else if and else by Go truth', () => {
    const text = '{{ if .Values.a }}a{{ else if .Values.b }}b{{ else }}none{{ end }}';
    expect(renderTemplate(text, { values: { a: 'yes' } })).toBe('a');
    expect(renderTemplate(text, { values: { a: '', b: [1] } })).toBe('b');
    // Empty lists and maps, zero and false are false, as in Go.
    expect(renderTemplate(text, { values: { a: 0, b: {} } })).toBe('none');
    expect(renderTemplate(text, { values: { a: false, b: [] } })).toBe('none');
  });

  it('sets the dot with `with`, and takes its else when the value is empty', () => {
    const text =
      '{{ with .Values.image }}{{ .repository }}:{{ $.Values.tag }}{{ else }}none{{ end }}';
    expect(renderTemplate(text, { values: { image: { repository: 'r' }, tag: 't' } })).toBe('r:t');
    expect(renderTemplate(text, { values: { image: {} } })).toBe('none');
  });

  it('ranges over lists with an index and over maps in key order', () => {
    const text =
      '{{ range $i, $e := .Values.list }}{{ $i }}={{ $e }} {{ end }}|' +
      '{{ range $k, $v := .Values.map }}{{ $k }}={{ $v }} {{ end }}|' +
      '{{ range .Values.list }}{{ . }}{{ $.Values.suffix }}{{ end }}|' +
      '{{ range .Values.none }}x{{ else }}empty{{ end }}';
    expect(
      renderTemplate(text, { values: { list: ['a', 'b'], map: { z: 1, a: 2 }, suffix: '!' } }),
    ).toBe('0=a 1=b |a=2 z=1 |a!b!|empty');
  });

  it('declares and assigns variables within their block', () => {
    const text =
      '{{- $x := "outer" }}{{ if true }}{{ $x = "changed" }}{{ $y := "inner" }}{{ $y }}{{ end }} {{ $x }}';
    expect(renderTemplate(text)).toBe('inner changed');
    expect(() => renderTemplate('{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}')).toThrow(
      'template:1: undefined variable "$y"',
    );
  });

  it('includes named templates from other files with the value given', () => {
    const helpers = {
      '_helpers.tpl':
        '{{- define "labels" -}}\nname: {{ .name }}\nrelease: {{ .context.Release.Name }}\n{{- end }}',
    };
    const text = 'labels:\n  {{- include "labels" (dict "name" "n" "context" $) | nindent 2 }}';
    expect(renderTemplate(text, { helpers, release: { name: 'r' } })).toBe(
      'labels:\n  name: n\n  release: r',
    );
    expect(() => renderTemplate('{{ include "nothing" . }}', { file: 'a.yaml' })).toThrow(
      'a.yaml:1: include: no template named "nothing"',
    );
  });

  it('applies the string functions of Sprig', () => {
    const cases: [string, string][] = [
      ['{{ "a\\"b" | quote }}', '"a\\"b"'],
      ['{{ .Values.missing | default "fallback" }}', 'fallback'],
      ['{{ "given" | default "fallback" }}', 'given'],
      ['{{ "abcdef" | trunc 3 }}', 'abc'],
      ['{{ "abcdef" | trunc -2 }}', 'ef'],
      ['{{ "name-" | trimSuffix "-" }}', 'name'],
      ['{{ printf "%s-%d-%v-%q-%%" "a" 7 true "q" }}', 'a-7-true-"q"-%'],
      ['{{ "token" | b64enc }}', 'dG9rZW4='],
      ['{{ contains "mask" "masksweep" }}', 'true'],
      ['{{ len "tokén" }}', '6'],
      ['{{ lt (len "abc") 4 }}', 'true'],
      ['{{ regexMatch "^[0-9a-f]+$" "c0ffee" }}', 'true'],
      ['{{ regexMatch "^[0-9a-f]+$" "coffee" }}', 'false'],
      ['{{ "a\\nb" | indent 2 }}', '  a\n  b'],
      ['{{ "a" | nindent 4 }}', '\n    a'],
    ];
    for (const [text, expected] of cases) expect(renderTemplate(text), text).toBe(expected);
  });

  it('writes toYaml like Helm: sorted keys, no final newline, no aliases', () => {
    const shared = { type: 'integer' };
    expect(
      renderTemplate('{{ toYaml .Values.spec }}', { values: { spec: { z: shared, a: shared } } }),
    ).toBe('a:\n  type: integer\nz:\n  type: integer');
  });

  it('reads chart files and takes a field of a parenthesized pipeline', () => {
    const files = { 'files/crd.yaml': '# comment\nmetadata:\n  name: x\nspec:\n  group: g\n' };
    expect(
      renderTemplate('{{ (.Files.Get "files/crd.yaml" | fromYaml).spec.group }}', { files }),
    ).toBe('g');
    expect(() => renderTemplate('{{ .Files.Get "files/none.yaml" }}', { files })).toThrow(
      'template:1: .Files.Get: the chart has no file files/none.yaml',
    );
  });

  it('compares like Go: values are float64, literals int, and the two do not mix', () => {
    const values = { replicas: 2, name: 'a' };
    expect(renderTemplate('{{ gt (int .Values.replicas) 1 }}', { values })).toBe('true');
    expect(
      renderTemplate('{{ eq .Values.name "b" "a" }} {{ ne .Values.name "a" }}', { values }),
    ).toBe('true false');
    expect(() => renderTemplate('{{ gt .Values.replicas 1 }}', { values })).toThrow(
      'gt: incompatible types for comparison: float64 and int',
    );
    expect(() => renderTemplate('{{ "x" | indent .Values.replicas }}', { values })).toThrow(
      'indent: expected an int, got float64 (convert it with int)',
    );
  });

  it('prints numbers of values as Go prints a float64', () => {
    expect(
      renderTemplate('{{ .Values.a }} {{ .Values.b }} {{ .Values.c }} {{ .Values.d }}', {
        values: { a: 2, b: 50051, c: 1500000, d: 0.25 },
      }),
    ).toBe('2 50051 1.5e+06 0.25');
  });

  it('evaluates and/or lazily and returns the deciding value', () => {
    const values = { a: { b: 'deep' }, empty: '' };
    expect(renderTemplate('{{ and .Values.missing .Values.missing.b }}', { values })).toBe('');
    expect(renderTemplate('{{ or .Values.empty .Values.a.b }}', { values })).toBe('deep');
    expect(renderTemplate('{{ not .Values.empty }}', { values })).toBe('true');
  });

  it('stops at required values with their message', () => {
    expect(() =>
      renderTemplate('a\n{{ required "token: set it" .Values.token }}', { file: 'secret.yaml' }),
    ).toThrow('secret.yaml:2: execution error: token: set it');
    expect(() => renderTemplate('{{ fail "token: too short" }}', { file: 'secret.yaml' })).toThrow(
      'secret.yaml:1: execution error: token: too short',
    );
  });

  it('refuses what it does not support, naming the file, the line and the construct', () => {
    const refusals: [string, string][] = [
      ['{{ lookup "v1" "Secret" "ns" "name" }}', 'x.yaml:2: unsupported function "lookup"'],
      ['{{ template "name" . }}', 'x.yaml:2: unsupported construct {{ template }}'],
      [
        '{{ with .a }}{{ else with .b }}{{ end }}',
        'x.yaml:2: unsupported construct {{ else with }}',
      ],
      ["{{ 'c' }}", `x.yaml:2: unsupported syntax at "'c'"`],
      [
        '{{ /* spaced */ }}',
        'x.yaml:2: a comment must sit right inside {{/* */}} or {{- /* */ -}}',
      ],
      ['{{ if .a }}', 'x.yaml:2: {{ if }} has no {{ end }}'],
      ['{{ end }}', 'x.yaml:2: unexpected {{ end }}'],
      ['{{ .a ', 'x.yaml:2: unclosed action: no }}'],
      ['{{ }}', 'x.yaml:2: missing value for command'],
      ['{{ .Values.a.b }}', 'x.yaml:2: nil pointer evaluating .Values.a.b'],
      ['{{ .Release.Revision }}', "x.yaml:2: can't evaluate field Revision in .Release"],
      ['{{ .Values }}', "x.yaml:2: printing a map gives Go's own notation: pipe it through toYaml"],
      ['{{ "a" "b" }}', 'x.yaml:2: "a" is not a function and takes no arguments'],
    ];
    for (const [text, message] of refusals) {
      let thrown: unknown;
      try {
        renderTemplate(`line one\n${text}`, { file: 'x.yaml' });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, text).toBeInstanceOf(HelmTemplateError);
      expect((thrown as Error).message, text).toBe(message);
    }
  });
});

describe('renderChart', () => {
  let chartDir: string | undefined;
  afterEach(() => {
    if (chartDir) rmSync(chartDir, { recursive: true, force: true });
  });

  const chart = (files: Record<string, string>): string => {
    chartDir = mkdtempSync(join(tmpdir(), 'helm-template-test-'));
    const all = {
      'Chart.yaml': 'apiVersion: v2\nname: demo\nversion: 1.0.0\nappVersion: "2.0"\n',
      ...files,
    };
    for (const [path, text] of Object.entries(all)) {
      mkdirSync(dirname(join(chartDir, path)), { recursive: true });
      writeFileSync(join(chartDir, path), text);
    }
    return chartDir;
  };

  it('renders every template but _helpers into documents, leaving out empty ones', () => {
    const dir = chart({
      'values.yaml': 'enabled: false\nname: a\n',
      'templates/_helpers.tpl':
        '{{- define "demo.name" -}}{{ .Chart.Name }}-{{ .Values.name }}{{- end }}',
      'templates/config.yaml':
        'kind: ConfigMap\nname: {{ include "demo.name" . }}\n---\n# only a comment\n---\n{{- if .Values.enabled }}\nkind: Secret\n{{- end }}\n',
      'templates/tests/pod.yaml': 'kind: Pod\nrelease: {{ .Release.Name }}\n',
    });
    expect(renderChart(dir, { releaseName: 'r' })).toEqual([
      { template: 'templates/config.yaml', text: 'kind: ConfigMap\nname: demo-a\n' },
      { template: 'templates/tests/pod.yaml', text: 'kind: Pod\nrelease: r\n' },
    ]);
    expect(renderChart(dir, { values: { enabled: true } }).map((d) => d.text)).toContain(
      'kind: Secret\n',
    );
  });

  it('merges the given values over values.yaml; null removes a key', () => {
    const dir = chart({
      'values.yaml': 'image:\n  repository: r\n  tag: t\nextra: x\n',
      'templates/a.yaml':
        'image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\nextra: {{ .Values.extra | default "none" }}\n',
    });
    expect(renderChart(dir, { values: { image: { tag: 'u' }, extra: null } })[0]?.text).toBe(
      'image: r:u\nextra: none\n',
    );
  });

  it('checks the values against values.schema.json, naming every problem', () => {
    const dir = chart({
      'values.yaml': 'controller:\n  replicas: 2\n',
      'values.schema.json': JSON.stringify({
        type: 'object',
        additionalProperties: false,
        definitions: { count: { type: 'integer', minimum: 0 } },
        properties: {
          controller: {
            type: 'object',
            additionalProperties: false,
            properties: { replicas: { $ref: '#/definitions/count' } },
          },
          policy: { enum: ['Always', 'Never'] },
        },
      }),
      'templates/a.yaml': 'replicas: {{ .Values.controller.replicas }}\n',
    });
    expect(renderChart(dir)[0]?.text).toBe('replicas: 2\n');
    expect(() =>
      renderChart(dir, {
        values: { controller: { replicas: -1, replica: 3 }, policy: 'Sometimes' },
      }),
    ).toThrow(
      /meet the specifications of the schema in .*values\.schema\.json:\n- controller\.replicas: Must be greater than or equal to 0\n- controller: Additional property replica is not allowed\n- policy: must be one of "Always", "Never"$/,
    );
    expect(() => renderChart(dir, { values: { controller: { replicas: '2' } } })).toThrow(
      '- controller.replicas: Invalid type. Expected: integer, given: string',
    );
  });

  it('refuses a schema keyword it cannot check instead of passing every value', () => {
    const dir = chart({
      'values.yaml': 'a: 1\n',
      'values.schema.json': JSON.stringify({ properties: { a: { oneOf: [{ type: 'integer' }] } } }),
      'templates/a.yaml': 'a: 1\n',
    });
    expect(() => renderChart(dir)).toThrow(
      'values.schema.json #/properties/a: the JSON-schema keyword "oneOf" is not supported',
    );
  });
});

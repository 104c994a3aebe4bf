/**
 * Renders a Helm chart without a helm binary: the subset of Go templates and Sprig that
 * helm/masksweep uses, with Helm's own semantics where they bite (values' numbers are
 * float64, so `gt .Values.n 1` is an error as in Helm and the chart must say `int`; a
 * missing map key is empty, a field of nothing is an error). Values are checked against the
 * chart's values.schema.json first, as `helm template` does. Anything outside the subset is
 * refused with the template file, the line and the construct, never silently misrendered.
 * Dependencies (charts/, Chart.yaml `dependencies`) are not rendered.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

export class HelmTemplateError extends Error {
  override readonly name = 'HelmTemplateError';
}

export interface RenderChartOptions {
  /** The release's name. @default 'masksweep' */
  releaseName?: string;
  /** The release's namespace. @default 'default' */
  namespace?: string;
  /** Values merged over the chart's values.yaml as `--values` would (null removes a key). */
  values?: Record<string, unknown>;
}

/** One YAML document of the output, with the template that made it. */
export interface RenderedDocument {
  /** The template's path in the chart, e.g. `templates/controller.yaml`. */
  template: string;
  /** The document's YAML text, without the `---` separator. */
  text: string;
}

export interface RenderTemplateOptions {
  /** The file name that errors name. @default 'template' */
  file?: string;
  /** Named templates (`define`) in other files, as file name -> text. @default {} */
  helpers?: Record<string, string>;
  values?: Record<string, unknown>;
  release?: { name?: string; namespace?: string };
  chart?: { name?: string; version?: string; appVersion?: string };
  /** What `.Files.Get` reads, as path -> content. @default {} */
  files?: Record<string, string>;
}

/** Renders one template text; the unit of the language, for tests of the renderer itself. */
export function renderTemplate(text: string, options: RenderTemplateOptions = {}): string {
  const file = options.file ?? 'template';
  const defines = new Map<string, Define>();
  for (const [helperFile, helperText] of Object.entries(options.helpers ?? {}))
    parseTemplate(helperText, helperFile, defines);
  const nodes = parseTemplate(text, file, defines);
  const files = options.files ?? {};
  const root = topLevelObject({
    values: options.values ?? {},
    releaseName: options.release?.name ?? 'release',
    namespace: options.release?.namespace ?? 'default',
    chart: {
      Name: options.chart?.name ?? 'chart',
      Version: options.chart?.version ?? '0.1.0',
      AppVersion: options.chart?.appVersion ?? '0.1.0',
    },
    readFile: (path) => files[path],
  });
  return new Renderer(defines).render(nodes, root);
}

/**
 * Renders every `templates/**\/*.yaml` of the chart in `chartDir` (not `_*` files, which
 * hold named templates) and splits the output into documents, leaving out empty ones.
 */
export function renderChart(
  chartDir: string,
  options: RenderChartOptions = {},
): RenderedDocument[] {
  const chartFile = join(chartDir, 'Chart.yaml');
  const chart = readYamlMap(chartFile);
  const values = mergeValues(readYamlMap(join(chartDir, 'values.yaml')), options.values ?? {});
  const schemaFile = join(chartDir, 'values.schema.json');
  if (existsSync(schemaFile)) {
    const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as Schema;
    const problems = schemaProblems(schema, values, '', '#');
    if (problems.length > 0)
      throw new HelmTemplateError(
        `values don't meet the specifications of the schema in ${schemaFile}:\n` +
          problems.map((problem) => `- ${problem}`).join('\n'),
      );
  }

  const templateDir = join(chartDir, 'templates');
  const templateFiles = listFiles(templateDir).map((path) =>
    relative(chartDir, path).split(sep).join('/'),
  );
  const defines = new Map<string, Define>();
  const parsed = templateFiles.map((file) => ({
    file,
    nodes: parseTemplate(readFileSync(join(chartDir, file), 'utf8'), file, defines),
  }));
  const root = topLevelObject({
    values,
    releaseName: options.releaseName ?? 'masksweep',
    namespace: options.namespace ?? 'default',
    chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
    readFile: (path) => {
      const normalized = posix.normalize(path);
      if (normalized.startsWith('../') || normalized.startsWith('templates/')) return undefined;
      const full = join(chartDir, normalized);
      return existsSync(full) ? readFileSync(full, 'utf8') : undefined;
    },
  });

  const renderer = new Renderer(defines);
  const documents: RenderedDocument[] = [];
  for (const { file, nodes } of parsed) {
    const name = posix.basename(file);
    if (name.startsWith('_') || !/\.ya?ml$/.test(name)) continue;
    for (const text of renderer.render(nodes, root).split(/^---[ \t]*$/m)) {
      const meaningful = text.split('\n').some((line) => line.trim() && !/^\s*#/.test(line));
      if (meaningful) documents.push({ template: file, text: text.replace(/^\n+/, '') });
    }
  }
  return documents;
}

// ---- reading the chart -------------------------------------------------------------------

function readYamlMap(path: string): Record<string, unknown> {
  const parsed: unknown = parseYaml(readFileSync(path, 'utf8'));
  if (parsed === null || parsed === undefined) return {};
  if (!isMap(parsed)) throw new HelmTemplateError(`${path}: the top level must be a map`);
  return parsed;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) =>
      entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)],
    );
}

/** Helm's coalescing of values: maps merge key by key, anything else replaces, null removes. */
function mergeValues(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete merged[key];
    else if (isMap(value) && isMap(merged[key]))
      merged[key] = mergeValues(merged[key] as Record<string, unknown>, value);
    else merged[key] = value;
  }
  return merged;
}

// ---- values.schema.json: the JSON-schema keywords the chart's schema uses ---------------------

interface Schema {
  $ref?: string;
  definitions?: Record<string, Schema>;
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  minimum?: number;
  minLength?: number;
  pattern?: string;
}

// Annotations that do not constrain a value.
const ANNOTATION_KEYWORDS = new Set([
  '$schema',
  '$id',
  'title',
  'description',
  'default',
  'examples',
  'definitions',
]);
const CHECKED_KEYWORDS = new Set([
  '$ref',
  'type',
  'properties',
  'additionalProperties',
  'required',
  'items',
  'enum',
  'minimum',
  'minLength',
  'pattern',
]);

/** The problems of `value` against `schema`, each naming the value's path. */
function schemaProblems(
  schema: Schema,
  value: unknown,
  path: string,
  at: string,
  root: Schema = schema,
): string[] {
  if (schema.$ref !== undefined) {
    // Draft 7: a $ref replaces its siblings. Only the schema's own definitions are reachable.
    const name = /^#\/definitions\/([^/]+)$/.exec(schema.$ref)?.[1];
    const target = name === undefined ? undefined : root.definitions?.[name];
    if (!target)
      throw new HelmTemplateError(`values.schema.json ${at}: cannot resolve $ref ${schema.$ref}`);
    return schemaProblems(target, value, path, schema.$ref, root);
  }
  for (const keyword of Object.keys(schema))
    if (!ANNOTATION_KEYWORDS.has(keyword) && !CHECKED_KEYWORDS.has(keyword))
      throw new HelmTemplateError(
        `values.schema.json ${at}: the JSON-schema keyword "${keyword}" is not supported by this renderer`,
      );
  const name = path || '(root)';
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((type) => hasJsonType(value, type)))
      return [`${name}: Invalid type. Expected: ${types.join(' or ')}, given: ${jsonType(value)}`];
  }
  const problems: string[] = [];
  if (schema.enum && !schema.enum.some((allowed) => allowed === value))
    problems.push(
      `${name}: must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`,
    );
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum)
    problems.push(`${name}: Must be greater than or equal to ${schema.minimum}`);
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      problems.push(`${name}: String length must be greater than or equal to ${schema.minLength}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value))
      problems.push(`${name}: Does not match pattern '${schema.pattern}'`);
  }
  if (Array.isArray(value) && schema.items)
    value.forEach((item, index) => {
      problems.push(
        ...schemaProblems(schema.items as Schema, item, `${path}.${index}`, `${at}/items`, root),
      );
    });
  if (isMap(value)) {
    for (const key of schema.required ?? [])
      if (!(key in value)) problems.push(`${name}: ${key} is required`);
    for (const [key, item] of Object.entries(value)) {
      const itemPath = path ? `${path}.${key}` : key;
      const declared = schema.properties?.[key];
      if (declared)
        problems.push(...schemaProblems(declared, item, itemPath, `${at}/properties/${key}`, root));
      else if (schema.additionalProperties === false)
        problems.push(`${name}: Additional property ${key} is not allowed`);
      else if (isMap(schema.additionalProperties))
        problems.push(
          ...schemaProblems(
            schema.additionalProperties,
            item,
            itemPath,
            `${at}/additionalProperties`,
            root,
          ),
        );
    }
  }
  return problems;
}

function hasJsonType(value: unknown, type: string): boolean {
  switch (type) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'null':
      return value === null;
    case 'string':
    case 'boolean':
    case 'object':
    case 'array':
      return jsonType(value) === type;
    default:
      throw new HelmTemplateError(`values.schema.json: unknown type "${type}"`);
  }
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

// ---- the template language: lexing ------------------------------------------------------------

interface Where {
  file: string;
  line: number;
}

type Item = { kind: 'text'; text: string } | { kind: 'action'; tokens: Token[]; where: Where };

type TokenKind =
  | 'literal'
  | 'dot'
  | 'field'
  | 'variable'
  | 'identifier'
  | 'open'
  | 'close'
  | 'pipe'
  | 'declare'
  | 'assign'
  | 'comma';

interface Token {
  kind: TokenKind;
  text: string;
  value?: unknown;
  /** Whether whitespace (or the start) comes before it: `$x.y` is one chain, `$x .y` two. */
  spaced: boolean;
}

function fail(where: Where, message: string): never {
  throw new HelmTemplateError(`${where.file}:${where.line}: ${message}`);
}

/** Splits a template into text and actions, applying `{{-` and `-}}` and dropping comments. */
function lex(source: string, file: string): Item[] {
  const items: Item[] = [];
  let position = 0;
  let trimNextText = false;
  const lineAt = (index: number) => source.slice(0, index).split('\n').length;
  while (position <= source.length) {
    const open = source.indexOf('{{', position);
    let text = source.slice(position, open === -1 ? source.length : open);
    if (trimNextText) text = text.replace(/^\s+/, '');
    if (open === -1) {
      items.push({ kind: 'text', text });
      break;
    }
    const where = { file, line: lineAt(open) };
    let start = open + 2;
    if (/^-\s/.test(source.slice(start, start + 2))) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    items.push({ kind: 'text', text });
    const close = findActionEnd(source, start, where);
    let end = close;
    trimNextText = false;
    if (/\s-$/.test(source.slice(close - 2, close))) {
      trimNextText = true;
      end = close - 1;
    }
    const raw = source.slice(start, end);
    const body = raw.trim();
    if (body.startsWith('/*')) {
      // Go accepts a comment only right inside the delimiters: {{/* */}} or {{- /* */ -}}.
      const opens = start > open + 2 ? /^\s\/\*/.test(raw) : raw.startsWith('/*');
      const closes = end < close ? /\*\/\s$/.test(raw) : raw.endsWith('*/');
      if (!opens || !closes)
        fail(where, 'a comment must sit right inside {{/* */}} or {{- /* */ -}}');
    } else {
      items.push({ kind: 'action', tokens: tokenize(body, where), where });
    }
    position = close + 2;
  }
  return items;
}

/** The index of the `}}` that ends the action starting at `start`, skipping quoted text. */
function findActionEnd(source: string, start: number, where: Where): number {
  let index = start;
  if (source.slice(index).trimStart().startsWith('/*')) {
    const commentEnd = source.indexOf('*/', index);
    if (commentEnd === -1) fail(where, 'unclosed comment');
    index = commentEnd + 2;
  }
  while (index < source.length) {
    const char = source[index];
    if (char === '"' || char === '`') {
      const quoted = char === '"' ? /^"(?:[^"\\\n]|\\.)*"/ : /^`[^`]*`/;
      const match = quoted.exec(source.slice(index));
      if (!match) fail(where, 'unterminated quoted string');
      index += match[0].length;
    } else if (source.startsWith('}}', index)) {
      return index;
    } else {
      index += 1;
    }
  }
  return fail(where, 'unclosed action: no }}');
}

const TOKEN_PATTERNS: [TokenKind, RegExp][] = [
  ['literal', /^"(?:[^"\\]|\\.)*"/],
  ['literal', /^`[^`]*`/],
  ['literal', /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/],
  ['variable', /^\$[A-Za-z0-9_]*/],
  ['field', /^\.[A-Za-z_][A-Za-z0-9_]*/],
  ['dot', /^\.(?![A-Za-z_])/],
  ['identifier', /^[A-Za-z_][A-Za-z0-9_]*/],
  ['declare', /^:=/],
  ['assign', /^=/],
  ['pipe', /^\|/],
  ['open', /^\(/],
  ['close', /^\)/],
  ['comma', /^,/],
];

function tokenize(body: string, where: Where): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < body.length) {
    const spaceMatch = /^\s*/.exec(body.slice(index));
    const spaced = tokens.length === 0 || (spaceMatch?.[0].length ?? 0) > 0;
    index += spaceMatch?.[0].length ?? 0;
    if (index >= body.length) break;
    const rest = body.slice(index);
    const found = TOKEN_PATTERNS.find(([, pattern]) => pattern.test(rest));
    if (!found) fail(where, `unsupported syntax at "${rest.slice(0, 20)}"`);
    const [kind, pattern] = found;
    const text = (pattern.exec(rest) as RegExpExecArray)[0];
    tokens.push({
      kind,
      text,
      spaced,
      value: kind === 'literal' ? literalValue(text, where) : undefined,
    });
    index += text.length;
  }
  return tokens;
}

/** Go's constants: integers are `int` (here bigint), decimals `float64` (here number). */
function literalValue(text: string, where: Where): unknown {
  if (text.startsWith('`')) return text.slice(1, -1);
  if (text.startsWith('"')) {
    try {
      return JSON.parse(text) as string;
    } catch {
      return fail(where, `unsupported escape in string ${text}`);
    }
  }
  return /[.eE]/.test(text) ? Number(text) : BigInt(text);
}

// ---- parsing ----------------------------------------------------------------------------------

type Base =
  | { kind: 'dot' }
  | { kind: 'variable'; name: string }
  | { kind: 'pipeline'; pipeline: Pipeline };

type Operand =
  | { kind: 'literal'; value: unknown }
  | { kind: 'function'; name: string }
  | { kind: 'chain'; base: Base; fields: string[] };

interface Pipeline {
  /** `$a := ...` or `$i, $e := ...` (declare) and `$a = ...` (assign). */
  variables: string[];
  declares: boolean;
  commands: Operand[][];
  where: Where;
}

interface BlockNode {
  kind: 'if' | 'with' | 'range';
  pipeline: Pipeline;
  body: Node[];
  /** The `else` part; `else if` is an if node alone in it. */
  otherwise: Node[];
}

type Node = { kind: 'text'; text: string } | { kind: 'action'; pipeline: Pipeline } | BlockNode;

interface Define {
  body: Node[];
  where: Where;
}

const UNSUPPORTED_KEYWORDS = new Set(['template', 'block', 'break', 'continue']);

/** Parses a template; its `define`s go into `defines`, shared by every file of the chart. */
function parseTemplate(source: string, file: string, defines: Map<string, Define>): Node[] {
  const items = lex(source, file);
  let position = 0;

  type Stop = { keyword: 'end' | 'else'; tokens: Token[]; where: Where };
  const parseList = (
    block: { keyword: string; where: Where } | undefined,
  ): { nodes: Node[]; stop: Stop | undefined } => {
    const nodes: Node[] = [];
    while (position < items.length) {
      const item = items[position++] as Item;
      if (item.kind === 'text') {
        if (item.text) nodes.push({ kind: 'text', text: item.text });
        continue;
      }
      const [first] = item.tokens;
      const keyword = first?.kind === 'identifier' ? first.text : undefined;
      if (keyword === 'end' || keyword === 'else') {
        if (!block) fail(item.where, `unexpected {{ ${keyword} }}`);
        return { nodes, stop: { keyword, tokens: item.tokens, where: item.where } };
      }
      if (keyword === 'if' || keyword === 'with' || keyword === 'range')
        nodes.push(parseBlock(keyword, item.tokens.slice(1), item.where));
      else if (keyword === 'define') {
        if (block) fail(item.where, 'define must be at the top level of a file');
        const name = item.tokens[1]?.value;
        if (typeof name !== 'string' || item.tokens.length !== 2)
          fail(item.where, 'define takes one quoted template name');
        const { nodes: body, stop } = parseList({ keyword: 'define', where: item.where });
        if (stop?.keyword !== 'end') fail(item.where, 'define has no {{ end }}');
        defines.set(name, { body, where: item.where });
      } else if (keyword && UNSUPPORTED_KEYWORDS.has(keyword))
        fail(item.where, `unsupported construct {{ ${keyword} }}`);
      else nodes.push({ kind: 'action', pipeline: parsePipeline(item.tokens, item.where, true) });
    }
    if (block) fail(block.where, `{{ ${block.keyword} }} has no {{ end }}`);
    return { nodes, stop: undefined };
  };

  const parseBlock = (keyword: 'if' | 'with' | 'range', tokens: Token[], where: Where): Node => {
    const pipeline = parsePipeline(tokens, where, true);
    const { nodes: body, stop } = parseList({ keyword, where });
    let otherwise: Node[] = [];
    if (stop?.keyword === 'else') {
      const rest = stop.tokens.slice(1);
      if (rest.length > 0) {
        // `else if` shares the `end` of its if: the nested block consumes it.
        if (keyword !== 'if' || rest[0]?.text !== 'if')
          fail(stop.where, `unsupported construct {{ else ${rest[0]?.text ?? ''} }}`);
        otherwise = [parseBlock('if', rest.slice(1), stop.where)];
      } else {
        const after = parseList({ keyword, where });
        if (after.stop?.keyword !== 'end') fail(stop.where, `{{ ${keyword} }} has two {{ else }}`);
        otherwise = after.nodes;
      }
    }
    return { kind: keyword, pipeline, body, otherwise };
  };

  const { nodes } = parseList(undefined);
  return nodes;
}

function parsePipeline(tokens: Token[], where: Where, allowDeclaration: boolean): Pipeline {
  let position = 0;
  const variables: string[] = [];
  let declares = false;
  // `$x :=`, `$x =` or `$i, $e :=` before the commands.
  const kinds = tokens.slice(0, 4).map((token) => token.kind);
  const declaration =
    (kinds[0] === 'variable' && (kinds[1] === 'declare' || kinds[1] === 'assign')) ||
    (kinds[0] === 'variable' &&
      kinds[1] === 'comma' &&
      kinds[2] === 'variable' &&
      (kinds[3] === 'declare' || kinds[3] === 'assign'));
  if (allowDeclaration && declaration) {
    while (tokens[position]?.kind === 'variable') {
      variables.push((tokens[position] as Token).text);
      position += 1;
      if (tokens[position]?.kind === 'comma') position += 1;
    }
    declares = tokens[position]?.kind === 'declare';
    position += 1;
  }

  const parseOperand = (): Operand => {
    const token = tokens[position++] as Token;
    let operand: Operand;
    switch (token.kind) {
      case 'literal':
        return { kind: 'literal', value: token.value };
      case 'identifier':
        if (token.text === 'true' || token.text === 'false')
          return { kind: 'literal', value: token.text === 'true' };
        if (token.text === 'nil') return { kind: 'literal', value: undefined };
        return { kind: 'function', name: token.text };
      case 'dot':
        operand = { kind: 'chain', base: { kind: 'dot' }, fields: [] };
        break;
      case 'field':
        operand = { kind: 'chain', base: { kind: 'dot' }, fields: [token.text.slice(1)] };
        break;
      case 'variable':
        operand = { kind: 'chain', base: { kind: 'variable', name: token.text }, fields: [] };
        break;
      case 'open': {
        const pipeline = parseCommands();
        if (tokens[position]?.kind !== 'close') fail(where, 'unclosed parenthesis');
        position += 1;
        operand = { kind: 'chain', base: { kind: 'pipeline', pipeline }, fields: [] };
        break;
      }
      default:
        return fail(where, `unexpected "${token.text}"`);
    }
    // Fields written right after an operand (`$x.y`, `(f x).y`) continue its chain.
    while (tokens[position]?.kind === 'field' && !(tokens[position] as Token).spaced) {
      operand.fields.push((tokens[position] as Token).text.slice(1));
      position += 1;
    }
    return operand;
  };

  const parseCommands = (): Pipeline => {
    const commands: Operand[][] = [];
    let command: Operand[] = [];
    while (position < tokens.length && tokens[position]?.kind !== 'close') {
      if (tokens[position]?.kind === 'pipe') {
        if (command.length === 0) fail(where, 'missing command before |');
        commands.push(command);
        command = [];
        position += 1;
      } else command.push(parseOperand());
    }
    if (command.length > 0) commands.push(command);
    else fail(where, commands.length > 0 ? 'missing command after |' : 'missing value for command');
    return { variables: [], declares: false, commands, where };
  };

  const pipeline = parseCommands();
  if (position < tokens.length) fail(where, `unexpected "${(tokens[position] as Token).text}"`);
  return { ...pipeline, variables, declares };
}

// ---- evaluation -------------------------------------------------------------------------------

/** Helm's built-in objects are Go structs: a field they lack is an error, not empty. */
const STRUCT = Symbol('go struct');

type Method = (where: Where, ...args: unknown[]) => unknown;

function struct(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, fields, { [STRUCT]: true });
}

function isStruct(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && STRUCT in value;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isStruct(value);
}

function topLevelObject(chart: {
  values: Record<string, unknown>;
  releaseName: string;
  namespace: string;
  chart: Record<string, unknown>;
  readFile: (path: string) => string | undefined;
}): Record<string, unknown> {
  const getFile: Method = (where, ...args) => {
    const [path] = args;
    if (args.length !== 1 || typeof path !== 'string') fail(where, '.Files.Get takes one path');
    const text = chart.readFile(path);
    if (text === undefined) fail(where, `.Files.Get: the chart has no file ${path}`);
    return text;
  };
  return struct({
    Values: chart.values,
    Release: struct({
      Name: chart.releaseName,
      Namespace: chart.namespace,
      Service: 'Helm',
      IsInstall: true,
      IsUpgrade: false,
    }),
    Chart: struct(chart.chart),
    Files: struct({ Get: getFile }),
  });
}

class Scope {
  private readonly variables = new Map<string, unknown>();
  constructor(private readonly parent?: Scope) {}

  declare(name: string, value: unknown): void {
    this.variables.set(name, value);
  }

  get(name: string, where: Where): unknown {
    for (let scope: Scope | undefined = this; scope; scope = scope.parent)
      if (scope.variables.has(name)) return scope.variables.get(name);
    return fail(where, `undefined variable "${name}"`);
  }

  assign(name: string, value: unknown, where: Where): void {
    for (let scope: Scope | undefined = this; scope; scope = scope.parent)
      if (scope.variables.has(name)) {
        scope.variables.set(name, value);
        return;
      }
    fail(where, `undefined variable "${name}"`);
  }
}

// Helm stops a template that includes itself without end at this depth too.
const MAX_INCLUDE_DEPTH = 1000;

class Renderer {
  private depth = 0;
  constructor(private readonly defines: Map<string, Define>) {}

  /** Renders `nodes` with `dot` as both `.` and `$`. */
  render(nodes: Node[], dot: unknown): string {
    const scope = new Scope();
    scope.declare('$', dot);
    const out: string[] = [];
    this.renderNodes(nodes, dot, scope, out);
    return out.join('');
  }

  private renderNodes(nodes: Node[], dot: unknown, scope: Scope, out: string[]): void {
    for (const node of nodes) {
      if (node.kind === 'text') out.push(node.text);
      else if (node.kind === 'action') {
        const value = this.evaluatePipeline(node.pipeline, dot, scope);
        // An action that declares or assigns a variable prints nothing.
        if (node.pipeline.variables.length === 0) out.push(printValue(value, node.pipeline.where));
      } else if (node.kind === 'range') this.renderRange(node, dot, scope, out);
      else {
        const inner = new Scope(scope);
        const value = this.evaluatePipeline(node.pipeline, dot, inner);
        if (truth(value))
          this.renderNodes(node.body, node.kind === 'with' ? value : dot, inner, out);
        else this.renderNodes(node.otherwise, dot, inner, out);
      }
    }
  }

  private renderRange(node: BlockNode, dot: unknown, scope: Scope, out: string[]): void {
    const { pipeline } = node;
    const { where, variables } = pipeline;
    if (variables.length > 0 && !pipeline.declares)
      fail(where, 'unsupported construct: range assigning (=) to variables');
    const collection = this.evaluateCommands(pipeline, dot, scope);
    let entries: [unknown, unknown][];
    if (Array.isArray(collection)) entries = collection.map((item, index) => [BigInt(index), item]);
    else if (isMap(collection))
      entries = Object.keys(collection)
        .sort()
        .map((key) => [key, collection[key]]);
    else if (collection === undefined || collection === null) entries = [];
    else fail(where, `range can't iterate over ${goKind(collection)}`);
    if (entries.length === 0) {
      this.renderNodes(node.otherwise, dot, new Scope(scope), out);
      return;
    }
    for (const [key, element] of entries) {
      const inner = new Scope(scope);
      if (variables.length === 1) inner.declare(variables[0] as string, element);
      else if (variables.length === 2) {
        inner.declare(variables[0] as string, key);
        inner.declare(variables[1] as string, element);
      }
      this.renderNodes(node.body, element, inner, out);
    }
  }

  private evaluatePipeline(pipeline: Pipeline, dot: unknown, scope: Scope): unknown {
    const value = this.evaluateCommands(pipeline, dot, scope);
    const { variables, where } = pipeline;
    if (variables.length > 1) fail(where, 'only range declares two variables');
    const [name] = variables;
    if (name !== undefined) {
      if (pipeline.declares) scope.declare(name, value);
      else scope.assign(name, value, where);
    }
    return value;
  }

  private evaluateCommands(pipeline: Pipeline, dot: unknown, scope: Scope): unknown {
    let piped: unknown[] = [];
    let value: unknown;
    for (const command of pipeline.commands) {
      value = this.evaluateCommand(command, dot, scope, pipeline.where, piped);
      // The result of each command is the last argument of the next.
      piped = [value];
    }
    return value;
  }

  private evaluateCommand(
    command: Operand[],
    dot: unknown,
    scope: Scope,
    where: Where,
    piped: unknown[],
  ): unknown {
    const [head, ...rest] = command as [Operand, ...Operand[]];
    const argument = (operand: Operand) => this.evaluateArgument(operand, dot, scope, where);
    if (head.kind === 'function') {
      const { name } = head;
      if (name === 'and' || name === 'or') {
        // Go evaluates and/or lazily: `and .a .a.b` never touches .a.b when .a is empty.
        const thunks = [
          ...rest.map((operand) => () => argument(operand)),
          ...piped.map((v) => () => v),
        ];
        if (thunks.length === 0) fail(where, `${name} takes at least one argument`);
        let value: unknown;
        for (const thunk of thunks) {
          value = thunk();
          if (truth(value) === (name === 'or')) return value;
        }
        return value;
      }
      const args = [...rest.map(argument), ...piped];
      if (name === 'include') return this.include(args, where);
      const implementation = FUNCTIONS[name];
      if (!implementation) fail(where, `unsupported function "${name}"`);
      return implementation(args, where);
    }
    const value = head.kind === 'literal' ? head.value : this.resolveChain(head, dot, scope, where);
    if (typeof value === 'function')
      return (value as Method)(where, ...rest.map(argument), ...piped);
    if (rest.length > 0 || piped.length > 0)
      fail(where, `${describeOperand(head)} is not a function and takes no arguments`);
    return value;
  }

  private evaluateArgument(operand: Operand, dot: unknown, scope: Scope, where: Where): unknown {
    if (operand.kind === 'literal') return operand.value;
    // A function name or a method as an argument is called without arguments, as in Go.
    return this.evaluateCommand([operand], dot, scope, where, []);
  }

  private resolveChain(
    operand: Extract<Operand, { kind: 'chain' }>,
    dot: unknown,
    scope: Scope,
    where: Where,
  ): unknown {
    const { base } = operand;
    let value =
      base.kind === 'dot'
        ? dot
        : base.kind === 'variable'
          ? scope.get(base.name, where)
          : this.evaluateCommands(base.pipeline, dot, scope);
    let path = base.kind === 'variable' ? base.name : base.kind === 'pipeline' ? '(...)' : '';
    for (const field of operand.fields) {
      if (value === undefined || value === null)
        fail(where, `nil pointer evaluating ${path || '.'}.${field}`);
      if (isStruct(value)) {
        if (!(field in value)) fail(where, `can't evaluate field ${field} in ${path || '.'}`);
        value = value[field];
      } else if (isMap(value)) value = Object.hasOwn(value, field) ? value[field] : undefined;
      else fail(where, `can't evaluate field ${field} in type ${goKind(value)}`);
      path += `.${field}`;
    }
    return value;
  }

  private include(args: unknown[], where: Where): string {
    const [name, data] = args;
    if (args.length !== 2 || typeof name !== 'string')
      fail(where, 'include takes a template name and one value');
    const define = this.defines.get(name);
    if (!define) fail(where, `include: no template named "${name}"`);
    if (this.depth >= MAX_INCLUDE_DEPTH) fail(where, `include "${name}": nested too deeply`);
    this.depth += 1;
    try {
      return this.render(define.body, data);
    } finally {
      this.depth -= 1;
    }
  }
}

function describeOperand(operand: Operand): string {
  if (operand.kind === 'literal') return JSON.stringify(String(operand.value));
  if (operand.kind === 'function') return operand.name;
  const base =
    operand.base.kind === 'variable'
      ? operand.base.name
      : operand.base.kind === 'dot'
        ? ''
        : '(...)';
  return `${base}${operand.fields.map((field) => `.${field}`).join('')}` || '.';
}

/** Go's truth: false, 0, nil and empty strings, lists and maps are false. */
function truth(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === '') return false;
  if (value === 0 || value === 0n) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isMap(value)) return Object.keys(value).length > 0;
  return true;
}

/** The Go kind of a value: values' numbers are float64 (Helm reads YAML through JSON). */
function goKind(value: unknown): string {
  if (value === undefined || value === null) return 'nil';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'number') return 'float64';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return 'slice';
  if (typeof value === 'function') return 'func';
  return isStruct(value) ? 'struct' : 'map';
}

function printValue(value: unknown, where: Where): string {
  // Helm prints a missing value as nothing (Go's "<no value>" is replaced).
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return formatFloat(value);
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return fail(where, `printing a ${goKind(value)} gives Go's own notation: pipe it through toYaml`);
}

/** Go's %v of a float64: shortest digits, exponent form from 1e+06 on (Helm's 1e+06 surprise). */
function formatFloat(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf';
  if (value === 0) return '0';
  const [digits, exponentText] = value.toExponential().split('e') as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 6)
    return `${digits}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  return String(value);
}

// ---- functions --------------------------------------------------------------------------------

type TemplateFunction = (args: unknown[], where: Where) => unknown;

function arity(name: string, args: unknown[], min: number, max: number, where: Where): void {
  if (args.length < min || args.length > max)
    fail(
      where,
      `${name} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${args.length}`,
    );
}

function stringArgument(name: string, value: unknown, where: Where): string {
  if (typeof value !== 'string') fail(where, `${name}: expected a string, got ${goKind(value)}`);
  return value;
}

/** Go passes an int parameter only an int: a value's float64 needs `int` first, as in Helm. */
function intArgument(name: string, value: unknown, where: Where): number {
  if (typeof value !== 'bigint')
    fail(where, `${name}: expected an int, got ${goKind(value)} (convert it with int)`);
  return Number(value);
}

function comparableKind(value: unknown, where: Where): string {
  const kind = goKind(value);
  if (!['nil', 'int', 'float64', 'string', 'bool'].includes(kind))
    fail(where, `cannot compare a ${kind}`);
  return kind;
}

function equal(a: unknown, b: unknown, where: Where): boolean {
  const kindA = comparableKind(a, where);
  const kindB = comparableKind(b, where);
  if (kindA === 'nil' || kindB === 'nil') return kindA === kindB;
  if (kindA !== kindB) fail(where, `incompatible types for comparison: ${kindA} and ${kindB}`);
  return a === b;
}

function ordered(name: string, test: (order: number) => boolean): TemplateFunction {
  return (args, where) => {
    arity(name, args, 2, 2, where);
    const [a, b] = args;
    const kindA = comparableKind(a, where);
    const kindB = comparableKind(b, where);
    if (kindA !== kindB || kindA === 'nil' || kindA === 'bool')
      fail(where, `${name}: incompatible types for comparison: ${kindA} and ${kindB}`);
    return test((a as number) < (b as number) ? -1 : a === b ? 0 : 1);
  };
}

function indent(args: unknown[], where: Where, name: string): string {
  arity(name, args, 2, 2, where);
  const pad = ' '.repeat(intArgument(name, args[0], where));
  return pad + stringArgument(name, args[1], where).replaceAll('\n', `\n${pad}`);
}

function sprintf(args: unknown[], where: Where): string {
  const [format, ...values] = args;
  let next = 0;
  const text = stringArgument('printf', format, where).replace(/%(.)/g, (_match, verb: string) => {
    if (verb === '%') return '%';
    if (next >= values.length) fail(where, `printf: missing argument for %${verb}`);
    const value = values[next++];
    switch (verb) {
      case 's':
      case 'v':
        return printValue(value, where);
      case 'd':
        return String(intArgument('printf %d', value, where));
      case 'q':
        return JSON.stringify(stringArgument('printf %q', value, where));
      default:
        return fail(where, `printf: unsupported verb %${verb}`);
    }
  });
  if (next < values.length) fail(where, `printf: ${values.length - next} arguments left over`);
  return text;
}

const FUNCTIONS: Record<string, TemplateFunction> = {
  quote: (args, where) =>
    args
      .filter((value) => value !== undefined && value !== null)
      .map((value) => JSON.stringify(printValue(value, where)))
      .join(' '),
  default: (args, where) => {
    arity('default', args, 1, 2, where);
    return args.length === 2 && truth(args[1]) ? args[1] : args[0];
  },
  required: (args, where) => {
    arity('required', args, 2, 2, where);
    const [message, value] = args;
    if (value === undefined || value === null || value === '')
      fail(where, `execution error: ${stringArgument('required', message, where)}`);
    return value;
  },
  toYaml: (args, where) => {
    arity('toYaml', args, 1, 1, where);
    const [value] = args;
    if (value === undefined || value === null) return 'null';
    // Helm's toYaml sorts keys (Go maps) and drops the final newline.
    return stringifyYaml(value, {
      lineWidth: 0,
      sortMapEntries: true,
      aliasDuplicateObjects: false,
    }).replace(/\n$/, '');
  },
  fromYaml: (args, where) => {
    arity('fromYaml', args, 1, 1, where);
    const parsed: unknown = parseYaml(stringArgument('fromYaml', args[0], where));
    if (!isMap(parsed)) fail(where, 'fromYaml: the text is not a YAML map');
    return parsed;
  },
  indent: (args, where) => indent(args, where, 'indent'),
  nindent: (args, where) => `\n${indent(args, where, 'nindent')}`,
  trunc: (args, where) => {
    arity('trunc', args, 2, 2, where);
    const length = intArgument('trunc', args[0], where);
    const text = stringArgument('trunc', args[1], where);
    return length >= 0 ? text.slice(0, length) : text.slice(Math.max(0, text.length + length));
  },
  trimSuffix: (args, where) => {
    arity('trimSuffix', args, 2, 2, where);
    const suffix = stringArgument('trimSuffix', args[0], where);
    const text = stringArgument('trimSuffix', args[1], where);
    return suffix && text.endsWith(suffix) ? text.slice(0, -suffix.length) : text;
  },
  contains: (args, where) => {
    arity('contains', args, 2, 2, where);
    return stringArgument('contains', args[1], where).includes(
      stringArgument('contains', args[0], where),
    );
  },
  printf: (args, where) => sprintf(args, where),
  // Go's len: of a string, its bytes.
  len: (args, where) => {
    arity('len', args, 1, 1, where);
    const [value] = args;
    if (typeof value === 'string') return BigInt(Buffer.byteLength(value, 'utf8'));
    if (Array.isArray(value)) return BigInt(value.length);
    if (isMap(value)) return BigInt(Object.keys(value).length);
    return fail(where, `len of ${goKind(value)}`);
  },
  fail: (args, where) => {
    arity('fail', args, 1, 1, where);
    return fail(where, `execution error: ${stringArgument('fail', args[0], where)}`);
  },
  regexMatch: (args, where) => {
    arity('regexMatch', args, 2, 2, where);
    const pattern = stringArgument('regexMatch', args[0], where);
    return new RegExp(pattern).test(stringArgument('regexMatch', args[1], where));
  },
  b64enc: (args, where) => {
    arity('b64enc', args, 1, 1, where);
    return Buffer.from(stringArgument('b64enc', args[0], where), 'utf8').toString('base64');
  },
  eq: (args, where) => {
    if (args.length < 2) fail(where, 'eq takes at least 2 arguments');
    const [first, ...others] = args;
    return others.some((other) => equal(first, other, where));
  },
  ne: (args, where) => {
    arity('ne', args, 2, 2, where);
    return !equal(args[0], args[1], where);
  },
  lt: ordered('lt', (order) => order < 0),
  le: ordered('le', (order) => order <= 0),
  gt: ordered('gt', (order) => order > 0),
  ge: ordered('ge', (order) => order >= 0),
  not: (args, where) => {
    arity('not', args, 1, 1, where);
    return !truth(args[0]);
  },
  int: (args, where) => {
    arity('int', args, 1, 1, where);
    const [value] = args;
    if (typeof value === 'bigint') return value;
    if (typeof value === 'number') return BigInt(Math.trunc(value));
    if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
    return fail(where, `int: cannot convert ${goKind(value)} ${JSON.stringify(value)}`);
  },
  dict: (args, where) => {
    if (args.length % 2 !== 0) fail(where, 'dict takes key and value pairs');
    const map: Record<string, unknown> = {};
    for (let index = 0; index < args.length; index += 2)
      map[stringArgument('dict key', args[index], where)] = args[index + 1];
    return map;
  },
};

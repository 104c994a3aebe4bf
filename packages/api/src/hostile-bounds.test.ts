/**
 * What a hostile Sweep meets before any code runs: the CRD that kubectl apply enforces bounds
 * every count and size (so `imageSize: 100000000` never reaches the controller), and the
 * Sweep file's YAML may not multiply itself through aliases.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { sweepCrd } from './crd.js';
import { LIMITS, loadSweepFile, SweepValidationError } from './index.js';
import { tinySweep } from './sweep.test-support.js';

type Node = Record<string, unknown>;

function specSchema(): Node {
  const { versions } = sweepCrd().spec as {
    versions: Array<{ schema: { openAPIV3Schema: { properties: { spec: Node } } } }>;
  };
  const [version] = versions;
  if (!version) throw new Error('the Sweep CRD has no version');
  return version.schema.openAPIV3Schema.properties.spec;
}

/** The schema nodes by path: `spec.datasets.imageSize`, `spec.grids[]`, `spec.x{}`. */
function nodes(node: Node, path = 'spec'): Array<[string, Node]> {
  const found: Array<[string, Node]> = [[path, node]];
  for (const [name, child] of Object.entries((node.properties as Record<string, Node>) ?? {}))
    found.push(...nodes(child, `${path}.${name}`));
  if (node.items) found.push(...nodes(node.items as Node, `${path}[]`));
  if (typeof node.additionalProperties === 'object')
    found.push(...nodes(node.additionalProperties as Node, `${path}{}`));
  return found;
}

describe('the Sweep CRD against hostile numbers', () => {
  it('gives every integer a maximum and every list a maxItems', () => {
    // Kubernetes' own field, a duration it passes on: no count that validation pays for.
    const passedToKubernetes = new Set(['spec.kubernetes.tolerations[].tolerationSeconds']);
    const unbounded = nodes(specSchema())
      .filter(([path]) => !passedToKubernetes.has(path))
      .filter(
        ([, node]) =>
          (node.type === 'integer' && node.maximum === undefined) ||
          (node.type === 'array' && node.maxItems === undefined),
      )
      .map(([path]) => path);
    expect(unbounded).toEqual([]);
  });

  it('carries the limits the validation checks', () => {
    const byPath = new Map(nodes(specSchema()));
    expect(byPath.get('spec.datasets.imageSize')?.maximum).toBe(LIMITS.imageSize);
    expect(byPath.get('spec.maxTrials')?.maximum).toBe(LIMITS.trials);
    expect(byPath.get('spec.seeds')?.maxItems).toBe(LIMITS.seeds);
    expect(byPath.get('spec.grids')?.maxItems).toBe(LIMITS.grids);
  });
});

describe('YAML aliases in a Sweep file', () => {
  const file = (text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'hostile-yaml-')), 'sweep.yaml');
    writeFileSync(path, text);
    return path;
  };
  // A Sweep that uses one anchor `count` times: under 100 expansions is a normal file.
  const withAliases = (count: number) =>
    `${stringify(tinySweep('aliased'))}x-labels:\n  anchor: &a [1]\n  uses:\n${'    - *a\n'.repeat(count)}`;

  it('reads a file of 99 alias uses as the values they stand for', () => {
    // Unknown top-level keys are the schema's business; the YAML itself parses.
    expect(() => loadSweepFile(file(withAliases(99)))).not.toThrow(/aliases expand/);
  });

  it('refuses a file of 101 alias uses in one problem, no ReferenceError', () => {
    const path = file(withAliases(101));
    const error = (() => {
      try {
        loadSweepFile(path);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(SweepValidationError);
    expect((error as Error).message).toMatch(
      /YAML aliases expand more than 100 times; write the values out instead/,
    );
    expect((error as Error).message.split('\n')).toHaveLength(1);
  });
});

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { crdFiles, sweepCrd, trialCrd } from './crd.js';

const crdDir = fileURLToPath(new URL('../../../k8s/crds/', import.meta.url));

type Node = Record<string, unknown>;

/** Kubernetes' structural rule: every schema node has a type, unless it keeps unknown fields. */
function untypedNodes(node: Node, path: string): string[] {
  const problems: string[] = [];
  if (!node.type && !node['x-kubernetes-preserve-unknown-fields']) problems.push(path);
  for (const banned of ['anyOf', 'oneOf', 'allOf', 'const', '$id', 'patternProperties'])
    if (banned in node) problems.push(`${path}.${banned}`);
  if (node.additionalProperties === false) problems.push(`${path}.additionalProperties`);
  for (const [name, child] of Object.entries((node.properties as Record<string, Node>) ?? {}))
    problems.push(...untypedNodes(child, `${path}.${name}`));
  if (node.items) problems.push(...untypedNodes(node.items as Node, `${path}[]`));
  if (typeof node.additionalProperties === 'object')
    problems.push(...untypedNodes(node.additionalProperties as Node, `${path}{}`));
  return problems;
}

function openApiSchema(definition: Node): Node {
  const [version] = (definition.spec as { versions: Array<{ schema: { openAPIV3Schema: Node } }> })
    .versions;
  return version?.schema.openAPIV3Schema as Node;
}

describe('CRDs', () => {
  it('are structural: every node typed, no unions, consts or closed objects', () => {
    expect(untypedNodes(openApiSchema(sweepCrd()), 'sweep')).toEqual([]);
    expect(untypedNodes(openApiSchema(trialCrd()), 'trial')).toEqual([]);
  });

  it('carry the schema enums and bounds, so kubectl apply refuses a bad mask type or ratio', () => {
    const spec = (openApiSchema(sweepCrd()).properties as Record<string, Node>).spec as Node;
    const grid = ((spec.properties as Record<string, Node>).grids as Node).items as Node;
    const mask = ((grid.properties as Record<string, Node>).masks as Node).items as Node;
    const maskProperties = mask.properties as Record<string, Node>;
    expect(maskProperties.type?.enum).toEqual(['random', 'mesh', 'square', 'blockwise']);
    const ratio = (maskProperties.ratios as Node).items as Node;
    expect(ratio.minimum).toBe(0);
    expect(ratio.exclusiveMinimum).toBe(true);
    expect(spec.required).toContain('grids');
  });

  it('are in k8s/crds as generated (run `npx masksweep crds --out k8s/crds` after a schema change)', () => {
    for (const { file, text } of crdFiles()) {
      expect(readFileSync(`${crdDir}${file}`, 'utf8'), file).toBe(text);
    }
  });
});

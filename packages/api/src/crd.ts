/**
 * The CustomResourceDefinitions of Sweep and Trial (apiextensions.k8s.io/v1), generated from
 * the TypeBox schema so that `kubectl apply` refuses what `masksweep validate` refuses at the
 * schema level. Kubernetes wants a structural OpenAPI v3 subset: literal unions become string
 * enums, numeric exclusive bounds become the boolean form, closed objects are left to
 * pruning (`additionalProperties: false` is not allowed).
 */
import type { TSchema } from '@sinclair/typebox';
import { stringify } from 'yaml';
import { SweepStatus, TrialStatus } from './resources.js';
import { API_GROUP, Sweep } from './schema.js';

export const API_VERSION_NAME = 'v1alpha1';

type Json = Record<string, unknown>;

/** A TypeBox schema as a Kubernetes structural schema. */
export function toStructuralSchema(schema: TSchema | Json): Json {
  const source = schema as Json;
  const literals = literalChoices(source);
  if (literals) {
    return withDocs(source, {
      type: typeof literals[0] === 'number' ? 'number' : 'string',
      enum: literals,
    });
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(source)) {
    switch (key) {
      case '$id':
      case 'additionalProperties':
        if (key === 'additionalProperties' && typeof value === 'object')
          out.additionalProperties = toStructuralSchema(value as Json);
        break;
      case 'properties':
        out.properties = Object.fromEntries(
          Object.entries(value as Record<string, Json>).map(([name, property]) => [
            name,
            toStructuralSchema(property),
          ]),
        );
        break;
      case 'items':
        out.items = toStructuralSchema(value as Json);
        break;
      case 'exclusiveMinimum':
        out.minimum = value;
        out.exclusiveMinimum = true;
        break;
      case 'exclusiveMaximum':
        out.maximum = value;
        out.exclusiveMaximum = true;
        break;
      case 'const':
        out.enum = [value];
        break;
      case 'anyOf':
      case 'oneOf':
      case 'allOf':
        throw new Error(`the schema has a ${key} that is not a union of literals: not structural`);
      default:
        out[key] = value;
    }
  }
  // The API server fills defaults in before it validates an object, but validates a
  // schema's `default` as written: a required property that has a default of its own makes
  // every `default: {}` above it invalid (objective: {} lacks metric), and the CRD is refused.
  if (out.type === 'object' && Array.isArray(out.required) && out.properties) {
    const properties = out.properties as Record<string, Json>;
    out.required = (out.required as string[]).filter(
      (name) => !('default' in (properties[name] ?? {})),
    );
  }
  if (out.type === 'object' && out.required && (out.required as string[]).length === 0)
    delete out.required;
  return out;
}

function literalChoices(schema: Json): Array<string | number> | undefined {
  const choices = schema.anyOf as Json[] | undefined;
  if (!choices?.every((c) => 'const' in c)) return undefined;
  return choices.map((c) => c.const as string | number);
}

function withDocs(source: Json, schema: Json): Json {
  for (const key of ['description', 'default'] as const)
    if (key in source) schema[key] = source[key];
  return schema;
}

function crd(options: {
  kind: string;
  plural: string;
  shortNames: string[];
  schema: Json;
  columns: Array<{ name: string; type: string; jsonPath: string; description?: string }>;
}): Json {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${options.plural}.${API_GROUP}` },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: {
        kind: options.kind,
        listKind: `${options.kind}List`,
        plural: options.plural,
        singular: options.kind.toLowerCase(),
        shortNames: options.shortNames,
        categories: ['masksweep'],
      },
      versions: [
        {
          name: API_VERSION_NAME,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            ...options.columns,
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: { openAPIV3Schema: options.schema },
        },
      ],
    },
  };
}

/** The Sweep CRD: the spec is the Sweep schema; the status holds counters, never a trial list. */
export function sweepCrd(): Json {
  const sweep = toStructuralSchema(Sweep);
  const properties = sweep.properties as Record<string, Json>;
  return crd({
    kind: 'Sweep',
    plural: 'sweeps',
    shortNames: ['sw'],
    columns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      {
        name: 'Trials',
        type: 'string',
        jsonPath: '.status.progress',
        description: 'succeeded/total',
      },
      { name: 'Best', type: 'number', jsonPath: '.status.bestTrial.objective' },
    ],
    schema: {
      type: 'object',
      required: ['spec'],
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { type: 'object' },
        spec: properties.spec,
        status: toStructuralSchema(SweepStatus),
      },
    },
  });
}

/** The Trial CRD: one trial of a Sweep; the table fields are copied out of the config. */
export function trialCrd(): Json {
  return crd({
    kind: 'Trial',
    plural: 'trials',
    shortNames: ['tr'],
    columns: [
      { name: 'Method', type: 'string', jsonPath: '.spec.method' },
      { name: 'Mask', type: 'string', jsonPath: '.spec.maskType' },
      { name: 'Ratio', type: 'number', jsonPath: '.spec.maskRatio' },
      { name: 'Augmentation', type: 'string', jsonPath: '.spec.augmentation' },
      { name: 'Seed', type: 'integer', jsonPath: '.spec.seed' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Objective', type: 'number', jsonPath: '.status.objective' },
    ],
    schema: {
      type: 'object',
      required: ['spec'],
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: { type: 'object' },
        spec: {
          type: 'object',
          required: ['sweep', 'method', 'seed', 'configKey', 'config'],
          properties: {
            sweep: { type: 'string' },
            method: { type: 'string' },
            maskType: { type: 'string' },
            maskRatio: { type: 'number' },
            maskSize: { type: 'integer' },
            augmentation: { type: 'string' },
            seed: { type: 'integer', minimum: 0 },
            pretrainKey: {
              type: 'string',
              description: 'absent for a method without pre-training (scratch)',
            },
            configKey: { type: 'string' },
            config: {
              type: 'object',
              description: 'the resolved trial config, as the trial-runner reads it',
              'x-kubernetes-preserve-unknown-fields': true,
            },
          },
        },
        status: toStructuralSchema(TrialStatus),
      },
    },
  });
}

/** The generated files of k8s/crds: name and YAML text. */
export function crdFiles(): Array<{ file: string; text: string }> {
  return [sweepCrd(), trialCrd()].map((definition) => ({
    file: `${(definition.metadata as { name: string }).name}.yaml`,
    text: `# Generated by \`masksweep crds --out k8s/crds\` from packages/api's schema; do not edit.\n${stringify(definition, { lineWidth: 0 })}`,
  }));
}

import type { TSchema } from '@sinclair/typebox';

/**
 * The value with the schema's defaults filled in where a field is absent, and nowhere else.
 * TypeBox's Value.Default also merges a default into a value of the wrong kind (an object
 * given for a list with a default becomes that default list with the object's keys on it,
 * which then passes the schema check), so a wrong type would be hidden instead of reported.
 */
export function withDefaults(schema: TSchema, value: unknown): unknown {
  const filled =
    value === undefined && 'default' in schema ? structuredClone(schema.default) : value;
  if (schema.type === 'object' && isPlainObject(filled) && schema.properties) {
    for (const [key, property] of Object.entries(schema.properties as Record<string, TSchema>)) {
      const child = withDefaults(property, filled[key]);
      if (child !== undefined) filled[key] = child;
    }
  } else if (schema.type === 'array' && Array.isArray(filled) && schema.items) {
    for (let i = 0; i < filled.length; i++)
      filled[i] = withDefaults(schema.items as TSchema, filled[i]);
  }
  return filled;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

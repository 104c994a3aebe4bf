import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GENERATED_DIR, generateSources } from '../scripts/generate.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const REGENERATE = 'run `npm run generate -w @masksweep/proto` and commit the result';

describe('generated code', () => {
  it('matches the .proto files', () => {
    const expected = generateSources();
    const committed = readdirSync(join(REPO_ROOT, GENERATED_DIR)).map(
      (name) => `${GENERATED_DIR}/${name}`,
    );
    expect(committed.sort(), `generated files differ: ${REGENERATE}`).toEqual(
      [...expected.keys()].sort(),
    );
    for (const [path, source] of expected) {
      const actual = readFileSync(join(REPO_ROOT, path), 'utf8');
      expect(actual === source, `${path} is stale: ${REGENERATE}`).toBe(true);
    }
  });
});

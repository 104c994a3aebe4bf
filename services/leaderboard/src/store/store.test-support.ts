/**
 * What the store's test files share: a fresh store per test (in its own folder, with the
 * sweep default/study registered) and the refusal a failing call throws.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { LeaderboardError } from '../errors.js';
import { openStore, type Store } from './store.js';

/**
 * Opens the store before each test and hands it to `use` with its file; closes and removes
 * it after.
 */
export function useTestStore(use: (store: Store, path: string) => void): void {
  let dir: string;
  let store: Store;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'leaderboard-store-'));
    const path = join(dir, 'leaderboard.db');
    store = openStore({ path });
    store.registerSweep({ namespace: 'default', sweep: 'study', specJson: '{}', trialCount: 10 });
    use(store, path);
  });
  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

/** The refusal `action` throws, by its name, field and message. */
export function refusal(action: () => unknown): { field: string; message: string; name: string } {
  try {
    action();
  } catch (error) {
    const { field, message, name } = error as LeaderboardError;
    return { field, message, name };
  }
  throw new Error('expected a refusal');
}

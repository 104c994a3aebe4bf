import { describe, expect, it } from 'vitest';
import { TerminalError, WorkQueue, type WorkQueueClock, type WorkResult } from './workqueue.js';

/** Timers that fire when the test moves the time. */
class FakeClock implements WorkQueueClock {
  time = 0;
  #timers = new Map<number, { at: number; callback: () => void }>();
  #next = 0;
  now = () => this.time;
  setTimeout = (callback: () => void, ms: number) => {
    this.#next += 1;
    this.#timers.set(this.#next, { at: this.time + ms, callback });
    return this.#next;
  };
  clearTimeout = (handle: unknown) => {
    this.#timers.delete(handle as number);
  };
  get pending(): number {
    return this.#timers.size;
  }
  /** Moves the time on, firing the timers due by then in order. */
  advance(ms: number) {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.#timers.entries()]
        .filter(([, t]) => t.at <= end)
        .sort(([, a], [, b]) => a.at - b.at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = end;
  }
}

/** A handler the test settles by hand, recording each call. */
function controlledHandler() {
  const calls: string[] = [];
  const pending: Array<{ key: string; settle: (outcome: WorkResult | Error | undefined) => void }> =
    [];
  const handle = (key: string) =>
    new Promise<WorkResult | undefined>((resolve, reject) => {
      calls.push(key);
      pending.push({
        key,
        settle: (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)),
      });
    });
  /** Settles the oldest call in flight and lets the queue react. */
  const settle = async (outcome?: WorkResult | Error) => {
    const call = pending.shift();
    if (!call) throw new Error('no call in flight');
    call.settle(outcome);
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { calls, pending, handle, settle };
}

describe('WorkQueue', () => {
  it('handles a key added many times once, and once more when added while handled', async () => {
    const handler = controlledHandler();
    const queue = new WorkQueue({ handle: handler.handle, workers: 4, clock: new FakeClock() });
    queue.add('a');
    queue.add('a');
    queue.add('b');
    expect(handler.calls).toEqual(['a', 'b']);
    queue.add('a'); // while a is handled: not a second worker on a
    queue.add('a');
    expect(handler.calls).toEqual(['a', 'b']);
    await handler.settle();
    expect(handler.calls).toEqual(['a', 'b', 'a']);
    await handler.settle();
    await handler.settle();
    expect(handler.calls).toEqual(['a', 'b', 'a']);
    await queue.idle();
  });

  it('handles at most `workers` keys at once, in the order they came', async () => {
    const handler = controlledHandler();
    const queue = new WorkQueue({ handle: handler.handle, workers: 2, clock: new FakeClock() });
    for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
    expect(handler.calls).toEqual(['a', 'b']);
    await handler.settle();
    expect(handler.calls).toEqual(['a', 'b', 'c']);
    let idle = false;
    void queue.idle().then(() => {
      idle = true;
    });
    await handler.settle();
    await handler.settle();
    expect(idle).toBe(false);
    await handler.settle();
    expect(handler.calls).toEqual(['a', 'b', 'c', 'd']);
    expect(idle).toBe(true);
  });

  it('retries a failing key after 5 ms doubling up to the cap, and forgets it on success', async () => {
    const clock = new FakeClock();
    const handler = controlledHandler();
    const retries: Array<number | undefined> = [];
    const queue = new WorkQueue({
      handle: handler.handle,
      clock,
      maxDelayMs: 40,
      onError: (_key, _error, retryInMs) => retries.push(retryInMs),
    });
    queue.add('a');
    for (let i = 0; i < 5; i++) {
      await handler.settle(new Error('the API server is away'));
      clock.advance(retries[i] as number);
    }
    expect(retries).toEqual([5, 10, 20, 40, 40]);
    expect(queue.failures('a')).toBe(5);
    clock.advance(1); // not due before: one call per retry
    expect(handler.calls).toHaveLength(6);
    await handler.settle();
    expect(queue.failures('a')).toBe(0);
    queue.add('a');
    await handler.settle(new Error('again'));
    expect(retries.at(-1)).toBe(5);
  });

  it('keeps the back-off of each key apart', async () => {
    const clock = new FakeClock();
    const handler = controlledHandler();
    const queue = new WorkQueue({ handle: handler.handle, clock, workers: 2 });
    queue.add('a');
    queue.add('b');
    await handler.settle(new Error('a fails'));
    await handler.settle();
    clock.advance(5);
    await handler.settle(new Error('a fails again'));
    expect([queue.failures('a'), queue.failures('b')]).toEqual([2, 0]);
  });

  it('never retries a TerminalError', async () => {
    const clock = new FakeClock();
    const handler = controlledHandler();
    const errors: Array<[string, number | undefined]> = [];
    const queue = new WorkQueue({
      handle: handler.handle,
      clock,
      onError: (key, error, retryInMs) => errors.push([error.name, retryInMs]),
    });
    queue.add('a');
    await handler.settle(new TerminalError('the object cannot be handled'));
    expect(errors).toEqual([['TerminalError', undefined]]);
    expect(clock.pending).toBe(0);
    clock.advance(10_000_000);
    expect(handler.calls).toEqual(['a']);
  });

  it('requeues after the time a handler asks for; the earliest of several waits wins', async () => {
    const clock = new FakeClock();
    const handler = controlledHandler();
    const queue = new WorkQueue({ handle: handler.handle, clock });
    queue.add('a');
    await handler.settle({ requeueAfterMs: 1000 });
    queue.addAfter('a', 300);
    queue.addAfter('a', 2000);
    expect(clock.pending).toBe(1);
    clock.advance(299);
    expect(handler.calls).toHaveLength(1);
    clock.advance(1);
    expect(handler.calls).toHaveLength(2);
    await handler.settle();
    clock.advance(10_000);
    expect(handler.calls).toHaveLength(2);
  });

  it('lets a key handled longer than slowAfterMs stop holding its worker, never running it twice', async () => {
    const clock = new FakeClock();
    const handler = controlledHandler();
    const queue = new WorkQueue({ handle: handler.handle, workers: 1, slowAfterMs: 1000, clock });
    queue.add('slow');
    queue.add('b');
    queue.add('c');
    expect(handler.calls).toEqual(['slow']);
    clock.advance(999);
    expect(handler.calls).toEqual(['slow']);
    clock.advance(1);
    // The slow key's worker is free: b starts beside it, c waits for a worker.
    expect(handler.calls).toEqual(['slow', 'b']);
    queue.add('slow');
    expect(handler.calls).toEqual(['slow', 'b']);
    await handler.settle(); // slow ends: it released its worker already, so c still waits
    expect(handler.calls).toEqual(['slow', 'b']);
    await handler.settle(); // b ends: c, then the slow key added again, take the one worker
    expect(handler.calls).toEqual(['slow', 'b', 'c']);
    await handler.settle();
    expect(handler.calls).toEqual(['slow', 'b', 'c', 'slow']);
    await handler.settle();
    await queue.idle();
    expect(clock.pending).toBe(0);
  });

  it('after shutDown takes no keys, drops waiting retries and waits for the running one', async () => {
    const clock = new FakeClock();
    const handler = controlledHandler();
    const queue = new WorkQueue({ handle: handler.handle, clock });
    queue.add('a');
    queue.addAfter('b', 100);
    let down = false;
    const shutDown = queue.shutDown().then(() => {
      down = true;
    });
    queue.add('c');
    await new Promise((resolve) => setImmediate(resolve));
    expect(down).toBe(false);
    await handler.settle(new Error('fails while shutting down'));
    await shutDown;
    clock.advance(1000);
    expect(handler.calls).toEqual(['a']);
    expect(clock.pending).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { createSemaphore } from '../../gateway/util/semaphore.js';

/** A job that stays in flight until the test says so. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('createSemaphore', () => {
  it('refuses a limit that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => createSemaphore(bad)).toThrow(RangeError);
  });

  it('runs at most `limit` jobs and queues the rest', async () => {
    const gate = createSemaphore(2);
    const jobs = Array.from({ length: 5 }, () => deferred());
    const started: number[] = [];
    const done = jobs.map((job, i) =>
      gate.run(async () => {
        started.push(i);
        await job.promise;
        return i;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    expect(gate.stats()).toEqual({ active: 2, queued: 3 });

    jobs[1]!.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    expect(gate.stats()).toEqual({ active: 2, queued: 2 });

    for (const job of jobs) job.resolve();
    expect(await Promise.all(done)).toEqual([0, 1, 2, 3, 4]);
    expect(gate.stats()).toEqual({ active: 0, queued: 0 });
  });

  it('hands slots out in arrival order (FIFO)', async () => {
    const gate = createSemaphore(1);
    const blocker = deferred();
    const first = gate.run(() => blocker.promise);
    const order: number[] = [];
    const rest = [1, 2, 3, 4].map((i) => gate.run(async () => void order.push(i)));
    blocker.resolve();
    await Promise.all([first, ...rest]);
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('frees the slot when a job rejects or throws synchronously', async () => {
    const gate = createSemaphore(1);
    await expect(gate.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(
      gate.run(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(gate.stats()).toEqual({ active: 0, queued: 0 });
    await expect(gate.run(async () => 'still works')).resolves.toBe('still works');
  });

  it('never lets active exceed the limit under churn', async () => {
    const gate = createSemaphore(3);
    let inFlight = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        gate.run(async () => {
          inFlight += 1;
          peak = Math.max(peak, inFlight, gate.stats().active);
          for (let k = 0; k < i % 4; k += 1) await tick();
          inFlight -= 1;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(gate.stats()).toEqual({ active: 0, queued: 0 });
  });
});

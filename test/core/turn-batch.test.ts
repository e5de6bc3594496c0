// The turn batch starts the pipeline of every request read in one event-loop turn at the end of that turn, in
// arrival order, and keeps each request's outcome its own.
import { describe, expect, it } from 'vitest';
import { TurnBatch } from '../../src/turn-batch.js';

describe('TurnBatch', () => {
  it('starts the tasks of a turn together at its end, in the order they came', async () => {
    const batch = new TurnBatch();
    const events: string[] = [];
    const task = (name: string) => async () => {
      events.push(`start ${name}`);
      await Promise.resolve();
      events.push(`resume ${name}`);
      return name;
    };
    const results = [batch.run(task('a')), batch.run(task('b')), batch.run(task('c'))];
    events.push('turn goes on');
    await new Promise((resolve) => setImmediate(resolve)); // queued after the batch's own setImmediate
    expect(await Promise.all(results)).toEqual(['a', 'b', 'c']);
    // All three start before any resumes: that is the batching.
    expect(events).toEqual(['turn goes on', 'start a', 'start b', 'start c', 'resume a', 'resume b', 'resume c']);
  });

  it('fails only the task that throws or rejects; the others and later turns still run', async () => {
    const batch = new TurnBatch();
    const thrown = batch.run(() => { throw new Error('synchronous'); });
    const rejected = batch.run(async () => { throw new Error('asynchronous'); });
    const fine = batch.run(async () => 'ok');
    await expect(thrown).rejects.toThrow('synchronous');
    await expect(rejected).rejects.toThrow('asynchronous');
    await expect(fine).resolves.toBe('ok');
    await expect(batch.run(async () => 'next turn')).resolves.toBe('next turn');
  });

  it('runs a task queued by a running task in the next turn, not the current one', async () => {
    const batch = new TurnBatch();
    const order: string[] = [];
    let inner: Promise<string> | undefined;
    const outer = batch.run(async () => {
      inner = batch.run(async () => { order.push('inner'); return 'inner'; });
      order.push('outer');
      return 'outer';
    });
    await outer;
    expect(order).toEqual(['outer']);
    await expect(inner).resolves.toBe('inner');
    expect(order).toEqual(['outer', 'inner']);
  });
});

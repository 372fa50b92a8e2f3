import { type Position, streamId, type StreamId } from '@eventcore/core';
import { AppendBatcher, type BatchRow } from './append-batcher';
import { SqlConnectionError } from './executor/sql-executor';
import { ReadBatcher, resolveReadBatching } from './read-batcher';
import type { AppendRequest } from './sql/append-request';

/** An append request of one write and `events` events (only what the batcher looks at). */
const request = (events = 1): AppendRequest =>
  ({ params: [], events: new Array(events).fill({}), writeCount: 1 }) as unknown as AppendRequest;

const row = (writes: number): BatchRow => ({
  r_failed: [],
  r_archived: [],
  r_versions: new Array<string>(writes).fill('0'),
  r_first_position: '1',
  r_tx: '9',
  r_recorded_at: '2026-01-01T00:00:00.000Z',
  r_head_position: null,
});

const limits = { maxInFlight: 1, maxAppends: 64, maxEvents: 10_000 };

/** A send that holds every batch until `release(n)`; records the batch sizes. */
function heldSend(answer: (size: number) => Promise<BatchRow[]>) {
  const sizes: number[] = [];
  const releases: (() => void)[] = [];
  const send = (requests: readonly AppendRequest[]) => {
    sizes.push(requests.length);
    return new Promise<void>((resolve) => releases.push(resolve)).then(() =>
      answer(requests.length),
    );
  };
  return { send, sizes, release: (n: number) => releases[n]!() };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('AppendBatcher (unit)', () => {
  it('fails every append of a batch, without resending, when the failure is not a statement error', async () => {
    const broken = new SqlConnectionError('connection reset', 'query');
    const { send, sizes, release } = heldSend(() => Promise.reject(broken));
    const batcher = new AppendBatcher(send, () => false, limits);
    const first = batcher.submit(request(), ['a']);
    const queued = [batcher.submit(request(), ['b']), batcher.submit(request(), ['c'])];
    release(0);
    await expect(first).rejects.toBe(broken);
    await tick();
    release(1);
    for (const outcome of await Promise.allSettled(queued)) {
      expect(outcome).toEqual({ status: 'rejected', reason: broken });
    }
    expect(sizes).toEqual([1, 2]); // the batch of two was not sent again alone
  });

  it('refuses an answer of another shape instead of inventing positions', async () => {
    const { send, release } = heldSend(() =>
      Promise.resolve([{ ...row(1), r_versions: [] }] as BatchRow[]),
    );
    const batcher = new AppendBatcher(send, () => true, limits);
    const outcome = batcher.submit(request(), ['a']);
    release(0);
    await expect(outcome).rejects.toThrow(/is the schema at version 8/);
  });

  it('keeps a batch within maxAppends and maxEvents, and lets a larger single append go alone', async () => {
    const { send, sizes, release } = heldSend((size) => Promise.resolve([row(size)]));
    const batcher = new AppendBatcher(send, () => true, { ...limits, maxAppends: 2, maxEvents: 5 });
    const all = [
      batcher.submit(request(), ['a']), // alone: nothing on the wire yet
      batcher.submit(request(2), ['b']),
      batcher.submit(request(2), ['c']), // b + c: 2 appends, 4 events
      batcher.submit(request(2), ['d']), // would make 3 appends
      batcher.submit(request(9), ['e']), // over maxEvents with anything: alone
    ];
    for (let n = 0; n < 4; n++) {
      release(n);
      await tick();
    }
    await Promise.all(all);
    expect(sizes).toEqual([1, 2, 1, 1]);
  });

  it('is idle only once nothing is queued or on the wire', async () => {
    const { send, release } = heldSend((size) => Promise.resolve([row(size)]));
    const batcher = new AppendBatcher(send, () => true, limits);
    await batcher.idle();
    const appends = [batcher.submit(request(), ['a']), batcher.submit(request(), ['b'])];
    let idle = false;
    void batcher.idle().then(() => (idle = true));
    release(0);
    await tick();
    expect(idle).toBe(false); // the second is now on the wire
    release(1);
    await Promise.all(appends);
    await tick();
    expect(idle).toBe(true);
  });
});

describe('ReadBatcher (unit)', () => {
  const id = (s: string): StreamId => streamId(s);

  it('has two reads in flight by default', () => {
    expect(resolveReadBatching(undefined)).toBe(2);
    expect(resolveReadBatching({})).toBe(2);
    expect(resolveReadBatching({ maxInFlight: 5 })).toBe(5);
  });

  it('fails every read a failed query served', async () => {
    const failure = new Error('server went away');
    let release!: () => void;
    const reads: (readonly StreamId[])[] = [];
    const batcher = new ReadBatcher((ids) => {
      reads.push(ids);
      return reads.length === 1
        ? new Promise(
            (resolve) =>
              (release = () => resolve({ events: [], position: 'p' as unknown as Position })),
          )
        : Promise.reject(failure);
    }, 1);
    const first = batcher.submit([id('a')]);
    const queued = [batcher.submit([id('b')]), batcher.submit([id('c'), id('b')])];
    release();
    await expect(first).resolves.toMatchObject({ events: [] });
    for (const outcome of await Promise.allSettled(queued)) {
      expect(outcome).toEqual({ status: 'rejected', reason: failure });
    }
    expect(reads).toEqual([[id('a')], [id('b'), id('c')]]); // one query, each stream once
  });
});

import { StreamTurns } from './stream-turns';

/** Resolves after pending promise callbacks ran. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function track(ready: Promise<void> | undefined) {
  const state = { ready: ready === undefined };
  void ready?.then(() => (state.ready = true));
  return state;
}

describe('StreamTurns', () => {
  it('lets commands on different streams go at once', () => {
    const turns = new StreamTurns();
    expect(turns.take(['a']).ready).toBeUndefined();
    expect(turns.take(['b', 'c']).ready).toBeUndefined();
  });

  it('lets a command on a busy stream go only when the earlier one is done, in order', async () => {
    const turns = new StreamTurns();
    const first = turns.take(['a']);
    const second = turns.take(['a']);
    const third = turns.take(['a']);
    const [s2, s3] = [track(second.ready), track(third.ready)];
    await settle();
    expect([s2.ready, s3.ready]).toEqual([false, false]);
    first.done();
    await settle();
    expect([s2.ready, s3.ready]).toEqual([true, false]);
    second.done();
    await settle();
    expect(s3.ready).toBe(true);
    third.done();
    expect(turns.size).toBe(0);
  });

  it('waits for every earlier command on any of its streams', async () => {
    const turns = new StreamTurns();
    const onA = turns.take(['a']);
    const onB = turns.take(['b']);
    const both = track(turns.take(['b', 'a']).ready);
    onA.done();
    await settle();
    expect(both.ready).toBe(false);
    onB.done();
    await settle();
    expect(both.ready).toBe(true);
  });

  it('cannot deadlock: places are taken on all streams at once, whatever their order', async () => {
    const turns = new StreamTurns();
    const xy = turns.take(['x', 'y']);
    const yx = turns.take(['y', 'x']);
    expect(xy.ready).toBeUndefined();
    const later = track(yx.ready);
    xy.done();
    await settle();
    expect(later.ready).toBe(true);
  });

  it('forgets a stream once its last command is done, and done twice is harmless', () => {
    const turns = new StreamTurns();
    const one = turns.take(['a', 'b']);
    const two = turns.take(['b']);
    one.done();
    expect(turns.size).toBe(1); // b: two is still queued
    two.done();
    two.done();
    expect(turns.size).toBe(0);
  });
});

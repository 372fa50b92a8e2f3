import { Deadlines, EXPIRED } from './deadlines';

const never = <T>() => new Promise<T>(() => undefined);
const after = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('Deadlines', () => {
  it('settles as the call does when the call comes first', async () => {
    const deadlines = new Deadlines();
    await expect(deadlines.race(Promise.resolve('done'), 1_000)).resolves.toBe('done');
    const failure = new Error('store down');
    await expect(deadlines.race(Promise.reject(failure), 1_000)).rejects.toBe(failure);
  });

  it('resolves to EXPIRED when the deadline comes first, not before it', async () => {
    const deadlines = new Deadlines();
    const started = performance.now();
    await expect(deadlines.race(never(), 30)).resolves.toBe(EXPIRED);
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    await expect(deadlines.race(never(), -5)).resolves.toBe(EXPIRED);
  });

  it('expires a short deadline on time while a longer one is pending, and each one once', async () => {
    const deadlines = new Deadlines();
    let longSettled = false;
    const long = deadlines.race(never<string>(), 200).finally(() => (longSettled = true));
    await expect(deadlines.race(never(), 20)).resolves.toBe(EXPIRED);
    expect(longSettled).toBe(false);
    const answered = deadlines.race(after(10, 'late but in time'), 500);
    await expect(long).resolves.toBe(EXPIRED);
    await expect(answered).resolves.toBe('late but in time');
  });

  it('keeps calls that answered in time out of later expiries', async () => {
    const deadlines = new Deadlines();
    const quick = await deadlines.race(after(5, 'quick'), 40);
    const slow = await deadlines.race(never(), 60);
    expect([quick, slow]).toEqual(['quick', EXPIRED]);
  });

  it('observes a rejection that comes after expiry, so it is never unhandled', async () => {
    const deadlines = new Deadlines();
    const unhandled = jest.fn();
    process.on('unhandledRejection', unhandled);
    try {
      let fail!: (error: Error) => void;
      const call = new Promise<never>((_resolve, reject) => (fail = reject));
      await expect(deadlines.race(call, 5)).resolves.toBe(EXPIRED);
      fail(new Error('too late'));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});

import { Deadlines } from './deadlines';

const never = <T>() => new Promise<T>(() => undefined);
const after = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));
const expired = () => new Error('expired');

describe('Deadlines', () => {
  it('settles as the call does when the call comes first', async () => {
    const deadlines = new Deadlines();
    await expect(deadlines.race(Promise.resolve('done'), 1_000, expired)).resolves.toBe('done');
    const failure = new Error('store down');
    await expect(deadlines.race(Promise.reject(failure), 1_000, expired)).rejects.toBe(failure);
  });

  it('rejects with the given error when the deadline comes first, not before it', async () => {
    const deadlines = new Deadlines();
    const started = performance.now();
    await expect(deadlines.race(never(), 30, expired)).rejects.toThrow('expired');
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    await expect(deadlines.race(never(), -5, expired)).rejects.toThrow('expired');
  });

  it('expires a short deadline on time while a longer one is pending, and each one once', async () => {
    const deadlines = new Deadlines();
    let longSettled = false;
    const long = deadlines.race(never<string>(), 200, expired).finally(() => (longSettled = true));
    long.catch(() => undefined);
    await expect(deadlines.race(never(), 20, expired)).rejects.toThrow('expired');
    expect(longSettled).toBe(false);
    const answered = deadlines.race(after(10, 'late but in time'), 500, expired);
    await expect(long).rejects.toThrow('expired');
    await expect(answered).resolves.toBe('late but in time');
  });

  it('keeps calls that answered in time out of later expiries', async () => {
    const deadlines = new Deadlines();
    const quick = await deadlines.race(after(5, 'quick'), 40, expired);
    const slow = await deadlines
      .race(never(), 60, () => new Error('slow expired'))
      .catch((error: Error) => error.message);
    expect([quick, slow]).toEqual(['quick', 'slow expired']);
  });

  it('observes a rejection that comes after expiry, so it is never unhandled', async () => {
    const deadlines = new Deadlines();
    const unhandled = jest.fn();
    process.on('unhandledRejection', unhandled);
    try {
      let fail!: (error: Error) => void;
      const call = new Promise<never>((_resolve, reject) => (fail = reject));
      await expect(deadlines.race(call, 5, expired)).rejects.toThrow('expired');
      fail(new Error('too late'));
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });
});

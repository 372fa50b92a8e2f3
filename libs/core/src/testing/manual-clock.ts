import type { Clock } from '../command/clock';

/** A clock that only moves when told to: pass it as the executor's `clock` in tests. */
export class ManualClock implements Clock {
  private current: number;

  constructor(start: Date | string = '2030-01-01T00:00:00.000Z') {
    this.current = new Date(start).getTime();
    if (Number.isNaN(this.current))
      throw new TypeError(`ManualClock: invalid start ${String(start)}`);
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('ManualClock.advance: ms must be >= 0');
    this.current += ms;
  }

  /** Sets the clock to `time`. */
  set(time: Date | string): void {
    this.current = new Date(time).getTime();
  }
}

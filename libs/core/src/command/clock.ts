/** Source of time for decisions, timestamps and deadlines. Replace it in tests. */
export interface Clock {
  now(): Date;
}

/** The system clock. */
export const systemClock: Clock = { now: () => new Date() };

/** The part of autocannon's programmatic API the load generator uses (the package ships no types). */
declare module 'autocannon' {
  interface Request {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    /** Called before each request of this kind: returns the request to send. */
    setupRequest?: (request: Request) => Request;
  }
  interface Options {
    url: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
    requests?: Request[];
    /** Seconds without an answer before a request counts as a timeout. */
    timeout?: number;
  }
  interface Percentiles {
    average: number;
    p50: number;
    p99: number;
  }
  interface Result {
    requests: Percentiles & { total: number };
    /** Milliseconds. */
    latency: Percentiles;
    /** Seconds. */
    duration: number;
    '2xx': number;
    non2xx: number;
    errors: number;
    timeouts: number;
  }
  function autocannon(options: Options): Promise<Result>;
  export = autocannon;
}

import autocannon from 'autocannon';

/** What the bench asks of one load run (JSON in argv[2]). */
export interface LoadRequest {
  readonly url: string;
  readonly connections: number;
  readonly seconds: number;
  /** Deposits of 1 into a random account, or transfers of 1 between two random accounts. */
  readonly work: 'deposit' | 'transfer';
  readonly accounts: readonly string[];
}

/** What one load run measured (JSON on stdout). */
export interface LoadResult {
  /** Requests answered 2xx. */
  readonly ok: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
}

/**
 * The end-to-end bench's load generator, in a process of its own so that it does not share an
 * event loop with the bench or the server: `node load.js '<LoadRequest as JSON>'`. Each of the
 * `connections` sends a request, waits for the answer, and sends the next (closed loop).
 */
async function main(): Promise<void> {
  const load = JSON.parse(process.argv[2]!) as LoadRequest;
  const pick = () => load.accounts[Math.floor(Math.random() * load.accounts.length)]!;
  const result = await autocannon({
    url: load.url,
    connections: load.connections,
    duration: load.seconds,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest(request) {
          if (load.work === 'deposit') {
            return { ...request, path: `/accounts/${pick()}/deposits`, body: '{"amount":1}' };
          }
          const from = pick();
          let to = pick();
          while (to === from) to = pick();
          return { ...request, path: '/transfers', body: JSON.stringify({ from, to, amount: 1 }) };
        },
      },
    ],
  });
  const output: LoadResult = {
    ok: result['2xx'],
    seconds: result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

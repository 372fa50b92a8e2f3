import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/**
 * Run in the child before anything else: lets Node `require` the repository's TypeScript sources,
 * compiled file by file with SWC and the build's own `.swcrc` (decorators); `@eventcore/*` resolve to
 * their sources through the `@eventcore/source` export condition, as in jest,
 * so a test can start real processes on the current sources without `npm run build` (which
 * rewrites dist/ under any other test using it).
 */
const REGISTER = `
const fs = require('node:fs');
const { transformSync } = require(require.resolve('@swc/core', { paths: [${JSON.stringify(ROOT)}] }));
const rc = JSON.parse(fs.readFileSync(${JSON.stringify(resolve(ROOT, '.swcrc'))}, 'utf8'));
delete rc.$schema;
const options = { ...rc, swcrc: false, sourceMaps: 'inline', jsc: { ...rc.jsc, baseUrl: ${JSON.stringify(ROOT)} } };
require.extensions['.ts'] = (module, filename) => {
  module._compile(transformSync(fs.readFileSync(filename, 'utf8'), { ...options, filename }).code, filename);
};
const [script, ...args] = process.argv.slice(1);
process.argv = [process.argv[0], script, ...args];
require(script);
`;

/** A child process running one TypeScript file of the repository. */
export interface TsProcess {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first stdout line that parses as JSON and satisfies `match`. */
  message<T>(match: (message: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Resolves with the match once the output (stdout and stderr) matches `pattern`. */
  outputMatching(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Resolves with the exit code (or the signal's name) once it has exited. */
  exited(): Promise<number | string>;
}

/**
 * Starts `node <script> ...args` on the repository's TypeScript sources, in `cwd` with `env`
 * added to this process's environment.
 */
export function spawnTs(
  script: string,
  args: readonly string[] = [],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): TsProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=@eventcore/source', '-e', REGISTER, resolve(ROOT, script), ...args],
    {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let output = '';
  let pending = '';
  const messages: unknown[] = [];
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((wake) => wake());
  child.stdout!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      try {
        messages.push(JSON.parse(line));
      } catch {
        // Log lines of the program itself.
      }
    }
    notify();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    notify();
  });
  const exit = new Promise<number | string>((resolveExit) =>
    child.once('exit', (code, signal) => {
      resolveExit(code ?? signal ?? 'unknown');
      notify();
    }),
  );
  return {
    child,
    output: () => output,
    exited: () => exit,
    message: <T>(match: (message: T) => boolean, timeoutMs = 60_000) =>
      waitFor(() => messages.find((m) => match(m as T)) as T | undefined, timeoutMs),
    outputMatching: (pattern: RegExp, timeoutMs = 60_000) =>
      waitFor(() => pattern.exec(output) ?? undefined, timeoutMs),
  };

  /** Resolves with `find()`'s first defined answer, checked after every chunk of output. */
  function waitFor<T>(find: () => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolveFound, reject) => {
      const check = () => {
        const found = find();
        if (found !== undefined) return done(() => resolveFound(found));
        if (child.exitCode !== null || child.signalCode !== null) {
          done(() => reject(new Error(`${script} exited before the awaited output:\n${output}`)));
        }
      };
      const timer = setTimeout(
        () =>
          done(() => reject(new Error(`${script}: awaited output not seen in time:\n${output}`))),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });
  }
}

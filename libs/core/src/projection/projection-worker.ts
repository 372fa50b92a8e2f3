import {
  CheckpointMovedError,
  InvalidOptionsError,
  InvalidProjectionError,
  ProjectionNotActiveError,
  ProjectionSetupError,
} from '../errors';
import type { RecordedEvent } from '../events/event';
import type { EventTypeRegistry } from '../events/event-type-registry';
import {
  backoffDelay,
  type ResolvedRetryOptions,
  resolveRetryOptions,
  type RetryUse,
} from '../command/retry-options';
import type { EventStore, Position, ReadAllPage } from '../store/event-store';
import type { CheckpointStore } from './checkpoint-store';
import type { ProjectionLease, ProjectionLock } from './projection-lock';
import type {
  ProjectionDefinition,
  ProjectionErrorPolicy,
  ProjectionHandler,
  ProjectionState,
  ProjectionStatus,
} from './projection.types';

/** Least time between two counts of a projection's lag in events. */
const LAG_COUNT_INTERVAL_MS = 1_000;

/** A projection's retry of a failing handler. */
const PROJECTION_RETRY: RetryUse = Object.freeze({
  field: 'errorPolicy.retry',
  timeout: false,
  defaults: Object.freeze({
    maxAttempts: 4,
    initialDelayMs: 100,
    maxDelayMs: 5_000,
    backoffFactor: 2,
    jitter: 0,
    timeoutMs: Number.POSITIVE_INFINITY,
  }),
});

/** Collaborators of a worker. */
export interface ProjectionWorkerDeps<Tx> {
  readonly store: EventStore;
  readonly checkpoints: CheckpointStore<Tx>;
  readonly lock: ProjectionLock;
  /** Retry interval for taking the lease while another instance holds it. @default 1000 */
  readonly standbyRetryMs?: number;
  /** Upcasts stored events before the handler sees them; a decode failure follows the error policy. */
  readonly events?: EventTypeRegistry;
  /** Longest wait in `stop()` for the batch in flight (a hanging handler must not block shutdown). @default 10000 */
  readonly stopTimeoutMs?: number;
  /** Called with every handler failure, for logging. */
  readonly onError?: (projection: string, error: unknown) => void;
  /** Waits out the batching window; tests pass one they end themselves. @default setTimeout */
  readonly delay?: (ms: number) => Promise<void>;
}

interface Waiter {
  readonly position: Position;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** A pause or resume waiting for the worker to get there. */
interface Transition {
  readonly kind: 'pause' | 'resume';
  /** Turns the loop had completed when asked: a resume is done after a turn that started later. */
  readonly after: number;
  readonly resolve: (status: ProjectionStatus) => void;
  readonly reject: (error: unknown) => void;
}

/** Thrown inside the loop when a stop interrupts retries: nothing is recorded for that event. */
class Stopping extends Error {}

/** Thrown inside the loop when a pause interrupts retries: the event is tried again on resume. */
class Pausing extends Error {}

/**
 * Runs one projection: takes the lease, catches up from the durable checkpoint, then follows the
 * log live (woken by the store, polling as a fallback). One batch in flight at a time; each batch
 * and its checkpoint commit together when the checkpoint store is transactional.
 */
export class ProjectionWorker<Tx = unknown> {
  readonly name: string;
  private readonly batchSize: number;
  private readonly batchWindowMs: number;
  private readonly pollIntervalMs: number;
  private readonly retry: ResolvedRetryOptions;
  private readonly onFailure: NonNullable<ProjectionErrorPolicy['onFailure']>;
  private state: ProjectionState = 'stopped';
  private position: Position | undefined;
  /** While catching up, the page after the batch being handled, read meanwhile. */
  private readAhead: { readonly after: Position; readonly page: Promise<ReadAllPage> } | undefined;
  private lease: ProjectionLease | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** A wake-up that came while not sleeping: the next sleep returns at once, so no append is missed. */
  private wokenEarly = false;
  /** Ends a retry's backoff or a batching window early: stop, pause and lease loss, never an append. */
  private cutWait: (() => void) | undefined;
  private pauseRequested = false;
  private faulted = false;
  private rebuildWaiters: {
    resolve: (status: ProjectionStatus) => void;
    reject: (e: unknown) => void;
  }[] = [];
  private transitions: Transition[] = [];
  /** Turns of the loop that read the log (successfully or not), to tell when a resume took effect. */
  private turns = 0;
  private rebuilding = false;
  /** The handler's `setup` has run in this lease (or there is none): batches may be handled. */
  private setUp = false;
  private positionWaiters: Waiter[] = [];
  private unsubscribe: (() => void) | undefined;
  private lastError: string | null = null;
  private handledEvents = 0;
  private deadLetters = 0;
  private lagEvents = 0;
  /**
   * When the oldest event not yet handled was recorded (epoch ms); undefined when none waits.
   * Its age is taken when status is asked, so lag keeps growing while a batch is retried.
   */
  private oldestPendingAt: number | undefined;
  private lagCountedAt = 0;

  constructor(
    private readonly definition: ProjectionDefinition,
    private readonly handler: ProjectionHandler<Tx>,
    private readonly deps: ProjectionWorkerDeps<Tx>,
  ) {
    this.name = checkDefinition(definition);
    this.batchSize = definition.batchSize ?? 100;
    this.batchWindowMs = definition.batchWindowMs ?? 5;
    this.pollIntervalMs = definition.pollIntervalMs ?? 500;
    this.retry = resolveRetryOptions(PROJECTION_RETRY, definition.errorPolicy?.retry);
    this.onFailure = definition.errorPolicy?.onFailure ?? 'fault';
  }

  /** Starts the loop in the background; returns at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.state = 'starting';
    this.unsubscribe = this.deps.store.onAppended?.(() => this.wake());
    this.loop = this.run();
  }

  /** Stops after the batch in flight, releases the lease, and resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.running = false;
    this.interrupt();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.deps.stopTimeoutMs ?? 10_000);
      timer.unref?.();
    });
    await Promise.race([this.loop, timeout]);
    clearTimeout(timer);
    this.unsubscribe?.();
    this.state = 'stopped';
    const stopped = new Error(`projection ${this.name} stopped`);
    for (const waiter of this.positionWaiters.splice(0)) waiter.reject(stopped);
    // A pause or resume overtaken by the stop: the new state is 'stopped', and that is the answer.
    for (const transition of this.transitions.splice(0)) transition.resolve(this.status());
  }

  /**
   * Stops handling after the batch in flight (a retry's backoff is cut short; the event is tried
   * again on resume), keeping the lease. Resolves with the status once paused — or faulted, which
   * also handles nothing until resumed.
   * @throws ProjectionNotActiveError (rejects) when the projection does not run on this instance.
   */
  pause(): Promise<ProjectionStatus> {
    const refused = this.refuseUnlessActive('paused');
    if (refused !== undefined) return refused;
    this.pauseRequested = true;
    if (this.state === 'paused' || this.state === 'faulted') return Promise.resolve(this.status());
    const waiting = this.transition('pause');
    this.interrupt();
    return waiting;
  }

  /**
   * Resumes a paused or faulted projection. Resolves with the status after the first batch it read
   * since: `live` or `catching-up` — or `faulted` again when the event still fails.
   * @throws ProjectionNotActiveError (rejects) when the projection does not run on this instance.
   */
  resume(): Promise<ProjectionStatus> {
    const refused = this.refuseUnlessActive('resumed');
    if (refused !== undefined) return refused;
    this.pauseRequested = false;
    this.faulted = false;
    const waiting = this.transition('resume');
    this.wake();
    return waiting;
  }

  /**
   * Empties the read model (the handler's `reset`), forgets the checkpoint and replays from the
   * beginning. Resolves with the status once the reset is committed (`rebuilding`, or `paused` when
   * paused); the replay continues in the background.
   * @throws ProjectionNotActiveError (rejects) when the projection does not run on this instance.
   */
  rebuild(): Promise<ProjectionStatus> {
    const refused = this.refuseUnlessActive('rebuilt');
    if (refused !== undefined) return refused;
    return new Promise((resolve, reject) => {
      this.rebuildWaiters.push({ resolve, reject });
      this.faulted = false;
      this.wake();
    });
  }

  /**
   * Resolves once the checkpoint is at or after `position`; rejects when `signal` aborts (with its
   * reason) or the worker stops.
   * @throws InvalidPositionError at once for a token that is not this store's.
   */
  waitFor(position: Position, signal?: AbortSignal): Promise<void> {
    this.deps.store.comparePositions(position, position); // validates before it can poison advance()
    if (this.passed(position)) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.positionWaiters = this.positionWaiters.filter((w) => w !== waiter);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        position,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.positionWaiters.push(waiter);
    });
  }

  /** Number of `waitFor` calls still pending (to check that timed-out callers leave nothing behind). */
  get pendingWaits(): number {
    return this.positionWaiters.length;
  }

  status(): ProjectionStatus {
    return {
      name: this.name,
      state: this.state,
      position: this.position ?? null,
      lagEvents: this.lagEvents,
      lagSeconds:
        this.oldestPendingAt === undefined
          ? 0
          : Math.max(0, (Date.now() - this.oldestPendingAt) / 1000),
      lastError: this.lastError,
      handledEvents: this.handledEvents,
      deadLetters: this.deadLetters,
    };
  }

  private async run(): Promise<void> {
    try {
      while (this.running) {
        try {
          await this.step();
        } catch (error) {
          if (error instanceof CheckpointMovedError) {
            await this.dropLease(error);
          } else if (error instanceof Stopping) {
            break;
          } else if (!(error instanceof Pausing)) {
            // Store unavailable or similar: report, wait, try again. Never crash the process.
            this.report(error);
            this.turns++;
            this.settle(false); // a resume answers with the error in lastError, not after the outage
            await this.sleep(this.pollIntervalMs);
          }
        }
      }
    } finally {
      // Nothing of this worker may still use the store once stop() has resolved.
      await this.readAhead?.page.catch(() => undefined);
      this.readAhead = undefined;
      await this.dropLease();
      for (const waiter of this.rebuildWaiters.splice(0))
        waiter.reject(new Error(`projection ${this.name} stopped`));
    }
  }

  /** A rejection for a control call on a projection that does not run here; undefined when it does. */
  private refuseUnlessActive(
    action: ProjectionNotActiveError['action'],
  ): Promise<never> | undefined {
    if (this.running && this.state !== 'standby') return undefined;
    const state = this.running ? 'standby' : 'stopped';
    return Promise.reject(new ProjectionNotActiveError(this.name, state, action));
  }

  private transition(kind: Transition['kind']): Promise<ProjectionStatus> {
    return new Promise((resolve, reject) =>
      this.transitions.push({ kind, after: this.turns, resolve, reject }),
    );
  }

  /**
   * Answers the pauses and resumes this turn completed. `idle`: the turn found the projection paused
   * or faulted. A pause is also done once a later resume overtook it, and a resume once a later
   * pause did: each answers the state the worker reached.
   */
  private settle(idle: boolean): void {
    if (this.transitions.length === 0) return;
    const done = (t: Transition) =>
      t.kind === 'pause'
        ? idle || !this.pauseRequested
        : (idle && this.pauseRequested) || (!idle && this.turns > t.after);
    const settled = this.transitions.filter(done);
    if (settled.length === 0) return;
    this.transitions = this.transitions.filter((t) => !settled.includes(t));
    const status = this.status();
    for (const t of settled) t.resolve(status);
  }

  /**
   * On standby another instance runs the projection: refuse the calls that waited for a lease, and
   * forget a pause — it belonged to this instance's run and must not come back at a later takeover.
   */
  private refuseWaiting(): void {
    this.pauseRequested = false;
    for (const t of this.transitions.splice(0)) {
      t.reject(
        new ProjectionNotActiveError(
          this.name,
          'standby',
          t.kind === 'pause' ? 'paused' : 'resumed',
        ),
      );
    }
    for (const waiter of this.rebuildWaiters.splice(0)) {
      waiter.reject(new ProjectionNotActiveError(this.name, 'standby', 'rebuilt'));
    }
  }

  /** One turn of the loop: lease, pause/fault/rebuild handling, then at most one batch. */
  private async step(): Promise<void> {
    if (this.lease === undefined || !this.lease.isHeld()) {
      this.lease = await this.deps.lock.tryAcquire(this.name);
      if (this.lease === undefined) {
        this.state = 'standby';
        this.refuseWaiting();
        await this.sleep(this.deps.standbyRetryMs ?? 1_000);
        return;
      }
      this.lease.onLost(() => this.interrupt());
      this.setUp = this.handler.setup === undefined;
      const checkpoint = await this.deps.checkpoints.load(this.name);
      this.state = 'catching-up';
      if (checkpoint !== undefined) this.advance(checkpoint); // waits already passed resolve now
    }
    if (this.rebuildWaiters.length > 0) return this.reset();
    if (this.faulted || this.pauseRequested) {
      this.state = this.faulted ? 'faulted' : 'paused';
      this.settle(true);
      await this.measureIdleLag();
      return this.sleep(this.pollIntervalMs);
    }
    if (this.state === 'paused' || this.state === 'faulted') {
      this.state = this.rebuilding ? 'rebuilding' : 'catching-up';
    }
    if (!this.setUp && !(await this.setUpReadModel())) return this.endTurn();

    let page = await this.nextPage();
    if (this.shouldGather(page)) {
      await this.gather();
      // Stopping or pausing: these events are handled by the next run, or on resume.
      if (!this.running || this.pauseRequested) return this.endTurn();
      page = await this.topUp(page);
    }
    const oldest = page.events[0];
    // The oldest event not yet handled, and at least this page waiting, before handling it.
    if (oldest !== undefined) {
      this.oldestPendingAt = recordedAtMs(oldest);
      this.lagEvents = Math.max(this.lagEvents, page.events.length);
    }
    if (page.events.length > 0) {
      // Behind: the next page is read while this one is handled (one batch in flight still).
      if (!page.isEnd) this.readAheadFrom(page.next);
      if (!(await this.handleBatch(page))) return this.endTurn();
    } else if (
      this.position === undefined ||
      this.deps.store.comparePositions(page.next, this.position) > 0
    ) {
      // Only filtered-out events passed: move the checkpoint so a restart need not rescan them.
      await this.deps.checkpoints.commit(
        this.name,
        this.position,
        page.next,
        async () => undefined,
      );
      this.advance(page.next);
    }
    await this.measureLag(page);
    if (page.isEnd) {
      if (this.state !== 'live') {
        this.state = 'live';
        this.rebuilding = false;
        await this.handler.onLive?.();
      }
    }
    this.endTurn();
    if (page.isEnd) await this.sleep(this.pollIntervalMs);
  }

  /**
   * The page after the checkpoint: the one read ahead when it starts there (any page read after a
   * position is a valid next page, however old), else — after a rebuild, a fault half-way through
   * a batch or a takeover — a fresh read.
   */
  private nextPage(): Promise<ReadAllPage> {
    const ahead = this.readAhead;
    this.readAhead = undefined;
    if (ahead !== undefined && ahead.after === this.position) return ahead.page;
    return this.deps.store.readAll({
      after: this.position,
      limit: this.batchSize,
      filter: this.definition.filter,
    });
  }

  private readAheadFrom(after: Position): void {
    const page = this.deps.store.readAll({
      after,
      limit: this.batchSize,
      filter: this.definition.filter,
    });
    // A failure surfaces when the next turn takes the page; unused, it must not go unhandled.
    page.catch(() => undefined);
    this.readAhead = { after, page };
  }

  /**
   * Whether to wait for more events before handling `page`: only while following the log live, so
   * neither a catch-up, a rebuild nor a full batch is ever delayed.
   */
  private shouldGather(page: ReadAllPage): boolean {
    return (
      this.batchWindowMs > 0 &&
      this.state === 'live' &&
      page.isEnd &&
      page.events.length > 0 &&
      page.events.length < this.batchSize
    );
  }

  /** `page` followed by what was appended since, up to `batchSize` events in all. */
  private async topUp(page: ReadAllPage): Promise<ReadAllPage> {
    const more = await this.deps.store.readAll({
      after: page.next,
      limit: this.batchSize - page.events.length,
      filter: this.definition.filter,
    });
    return { events: [...page.events, ...more.events], next: more.next, isEnd: more.isEnd };
  }

  private endTurn(): void {
    this.turns++;
    this.settle(false);
  }

  private async reset(): Promise<void> {
    const waiters = this.rebuildWaiters.splice(0);
    this.state = 'rebuilding';
    this.rebuilding = true;
    try {
      await this.deps.checkpoints.reset(this.name, async (tx) => {
        await this.handler.reset?.({ tx });
        // A reset that dropped the tables gets them back before the replay's first batch.
        await this.handler.setup?.({ tx });
      });
      this.setUp = true;
      this.position = undefined;
      this.handledEvents = 0;
      this.lastError = null;
      // The loop shows 'paused' on its next turn; answer that already.
      if (this.pauseRequested) this.state = 'paused';
      const status = this.status();
      for (const waiter of waiters) waiter.resolve(status);
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
      throw error;
    }
  }

  /**
   * Runs the handler's `setup` in a transaction of the checkpoint store, with the error policy's
   * retries; when they are spent, faults the projection (false) with a ProjectionSetupError.
   */
  private async setUpReadModel(): Promise<boolean> {
    let failure: unknown;
    const ok = await this.withRetries(
      () =>
        this.deps.checkpoints.transaction(async (tx) => {
          // As in deliver(): without the lease another instance may be setting up; write nothing.
          if (this.lease === undefined || !this.lease.isHeld()) {
            throw new CheckpointMovedError(this.name);
          }
          await this.handler.setup?.({ tx });
        }),
      (error) => (failure = error),
    );
    if (ok) {
      this.setUp = true;
      return true;
    }
    this.report(new ProjectionSetupError(this.name, failure));
    this.faulted = true;
    this.state = 'faulted';
    return false;
  }

  /** Handles a page in one commit, with retries; falls back to one event at a time on failure. */
  private async handleBatch(page: ReadAllPage): Promise<boolean> {
    const from = this.position;
    const committed = await this.withRetries(() =>
      this.deps.checkpoints.commit(this.name, from, page.next, async (tx) => {
        await this.deliver(page.events, tx);
      }),
    );
    if (committed) {
      this.handledEvents += page.events.length;
      this.advance(page.next);
      return true;
    }
    return this.handleOneByOne(page.next);
  }

  /** Isolates the failing event(s) of a batch, applying the error policy to each. */
  private async handleOneByOne(until: Position): Promise<boolean> {
    while (
      this.running &&
      (this.position === undefined || this.deps.store.comparePositions(this.position, until) < 0)
    ) {
      const single = await this.deps.store.readAll({
        after: this.position,
        limit: 1,
        filter: this.definition.filter,
      });
      const event = single.events[0];
      if (event === undefined) return true;
      const from = this.position;
      let failure: unknown;
      const ok = await this.withRetries(
        () =>
          this.deps.checkpoints.commit(this.name, from, single.next, async (tx) =>
            this.deliver([event], tx),
          ),
        (error) => (failure = error),
      );
      if (ok) {
        this.handledEvents++;
      } else if (this.onFailure === 'dead-letter') {
        await this.deps.checkpoints.deadLetter(this.name, from, single.next, event, failure);
        this.deadLetters++;
      } else {
        this.faulted = true;
        this.state = 'faulted';
        return false;
      }
      this.advance(single.next);
    }
    return true;
  }

  /** Runs `attempt` up to `retry.maxAttempts` times; false when every try failed. Lease loss propagates. */
  private async withRetries(
    attempt: () => Promise<unknown>,
    onFailure?: (error: unknown) => void,
  ): Promise<boolean> {
    for (let retry = 0; ; retry++) {
      try {
        await attempt();
        return true;
      } catch (error) {
        if (error instanceof CheckpointMovedError) throw error;
        this.report(error);
        onFailure?.(error);
        // Stopping is not a verdict on the event: leave it for the next run, record nothing.
        if (!this.running) throw new Stopping();
        // Nor is a pause: the event is tried afresh on resume.
        if (this.pauseRequested) throw new Pausing();
        if (retry + 1 >= this.retry.maxAttempts) return false;
        // The lease went while this try ran (a lost connection often fails both): no retry can
        // commit now, and waiting out the backoff would keep reporting this instance as running.
        if (this.lease !== undefined && !this.lease.isHeld())
          throw new CheckpointMovedError(this.name);
        await this.backoff(backoffDelay(this.retry, retry + 1, Math.random));
        if (!this.running) throw new Stopping();
        if (this.pauseRequested) throw new Pausing();
      }
    }
  }

  private async deliver(events: readonly RecordedEvent[], tx: Tx): Promise<void> {
    // A lost lease means another instance may run this projection now: write nothing more.
    if (this.lease === undefined || !this.lease.isHeld()) throw new CheckpointMovedError(this.name);
    const upcaster = this.deps.events;
    const current = upcaster === undefined ? events : events.map((event) => upcaster.upcast(event));
    if (this.handler.handleBatch !== undefined) {
      await this.handler.handleBatch(current, { tx });
      return;
    }
    for (const event of current) await this.handler.handle(event, { tx });
  }

  private advance(position: Position): void {
    this.position = position;
    const reached = this.positionWaiters.filter((w) => this.passed(w.position));
    if (reached.length === 0) return;
    this.positionWaiters = this.positionWaiters.filter((w) => !reached.includes(w));
    for (const waiter of reached) waiter.resolve();
  }

  private passed(position: Position): boolean {
    return (
      this.position !== undefined && this.deps.store.comparePositions(this.position, position) >= 0
    );
  }

  private async measureLag(page: ReadAllPage): Promise<void> {
    if (page.isEnd) {
      this.lagEvents = 0;
      this.oldestPendingAt = undefined;
      return;
    }
    // Counting costs as much as the lag (a scan on PostgreSQL): at most once a second while
    // catching up; in between, the handled events come off the last count.
    if (Date.now() - this.lagCountedAt < LAG_COUNT_INTERVAL_MS) {
      this.lagEvents = Math.max(0, this.lagEvents - page.events.length);
      return;
    }
    this.lagEvents = await this.countLag(this.batchSize);
  }

  private async countLag(fallback: number): Promise<number> {
    this.lagCountedAt = Date.now();
    return (await this.deps.store.countAfter?.(this.position, this.definition.filter)) ?? fallback;
  }

  /** Keeps lag figures true while paused or faulted, so health can flag a long pause. */
  private async measureIdleLag(): Promise<void> {
    const next = await this.deps.store.readAll({
      after: this.position,
      limit: 1,
      filter: this.definition.filter,
    });
    const oldest = next.events[0];
    this.oldestPendingAt = oldest === undefined ? undefined : recordedAtMs(oldest);
    this.lagEvents = oldest === undefined ? 0 : await this.countLag(1);
  }

  private report(error: unknown): void {
    this.lastError = error instanceof Error ? error.message : String(error);
    this.deps.onError?.(this.name, error);
  }

  private async dropLease(error?: CheckpointMovedError): Promise<void> {
    if (error !== undefined) this.report(error);
    const lease = this.lease;
    this.lease = undefined;
    if (lease?.isHeld()) await lease.release().catch((e: unknown) => this.report(e));
  }

  /** Waits `ms`, or less when woken (append signal, resume, stop, lease lost). */
  private sleep(ms: number): Promise<void> {
    if (this.wokenEarly) {
      this.wokenEarly = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeUp === done) this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.wakeUp = done;
    });
  }

  /**
   * A retry's wait. Unlike {@link sleep}, appends do not end it: under steady writes they would turn
   * the backoff into a burst of tries and dead-letter an event that a brief outage made fail.
   */
  private backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.cutWait === done) this.cutWait = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref?.();
      this.cutWait = done;
    });
  }

  /**
   * The batching window. Appends do not end it either — gathering them is its point; the wake-ups
   * they leave make the turn after the batch read the log again, so none is missed.
   */
  private gather(): Promise<void> {
    const delay = this.deps.delay;
    if (delay === undefined) return this.backoff(this.batchWindowMs);
    return new Promise((resolve) => {
      const done = () => {
        if (this.cutWait === done) this.cutWait = undefined;
        resolve();
      };
      this.cutWait = done;
      void delay(this.batchWindowMs).then(done, done);
    });
  }

  /** Wakes the loop and cuts a retry's backoff or a batching window short: for stop, pause and lease loss. */
  private interrupt(): void {
    const cut = this.cutWait;
    this.cutWait = undefined;
    cut?.();
    this.wake();
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    if (wakeUp === undefined) this.wokenEarly = true;
    else wakeUp();
  }
}

function recordedAtMs(event: RecordedEvent): number {
  return Date.parse(event.recordedAt);
}

function checkDefinition(definition: ProjectionDefinition): string {
  const name = definition?.name;
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.:-]{1,100}$/.test(name)) {
    throw new InvalidProjectionError(
      String(name),
      'its name must be 1–100 letters, digits or _ . : -',
    );
  }
  const batch = definition.batchSize;
  if (batch !== undefined && (!Number.isSafeInteger(batch) || batch < 1 || batch > 10_000)) {
    throw new InvalidProjectionError(
      name,
      `batchSize must be an integer from 1 to 10000, not ${batch}`,
    );
  }
  const window = definition.batchWindowMs;
  if (
    window !== undefined &&
    (typeof window !== 'number' || !Number.isFinite(window) || window < 0 || window > 1_000)
  ) {
    throw new InvalidProjectionError(
      name,
      `batchWindowMs must be a number of milliseconds from 0 to 1000, not ${String(window)}`,
    );
  }
  const policy = definition.errorPolicy;
  if (
    policy?.onFailure !== undefined &&
    policy.onFailure !== 'fault' &&
    policy.onFailure !== 'dead-letter'
  ) {
    throw new InvalidProjectionError(
      name,
      `errorPolicy.onFailure must be 'fault' or 'dead-letter'`,
    );
  }
  try {
    resolveRetryOptions(PROJECTION_RETRY, policy?.retry);
  } catch (error) {
    if (error instanceof InvalidOptionsError) {
      throw new InvalidProjectionError(name, `${error.what}: ${error.reason}`);
    }
    throw error;
  }
  return name;
}

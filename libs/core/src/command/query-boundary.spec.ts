/**
 * The executor's contract for commands whose boundary is a query (DCB, `@Boundary()`), one rule
 * per test, on the in-memory store: one read, fold, decide, one conditional append with `after`
 * from that read, retry on a failed condition only, widening, coverage, idempotency, and commands
 * with streams and a query at once.
 */
import { IsString, Matches } from 'class-validator';
import type { DomainEvent, RecordedEvent } from '../events/event';
import {
  AppendConditionFailedError,
  BusinessRuleViolationError,
  ConcurrencyConflictError,
  IdempotencyKeyReuseError,
  InvalidQueryError,
  LogHeldBackError,
  RetriesExhaustedError,
  StreamDiscoveryLimitError,
  UncoveredEventError,
} from '../errors';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import type { AppendOptions, EventQuery } from '../store/event-query';
import type { EventStore, StreamWrite } from '../store/event-store';
import { ExpectedVersion } from '../store/expected-version';
import { type StreamId, streamId } from '../store/stream-id';
import { seed, SpyStore, toAppend } from './__fixtures__/bank.commands';
import {
  type CourseEvent,
  courseTag,
  CourseRules,
  DefineCourse,
  RegisterUsername,
  STUDENT_SUBSCRIPTION_LIMIT,
  studentTag,
  SubscribeStudentToCourse,
} from './__fixtures__/course.commands';
import { item, query } from './boundary-query';
import { Boundary, Command, Stream } from './command.decorators';
import { CommandExecutor, type ExecutorOptions } from './command-executor';
import type { CommandContext, CommandLogic } from './command-logic';
import { IDEMPOTENCY_RECORD_TYPE } from './idempotency';

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function setup(options: ExecutorOptions = {}) {
  const store = new SpyStore();
  const sleeps: number[] = [];
  const executor = new CommandExecutor(store, {
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0.5,
    ...options,
  });
  const reads = jest.spyOn(store, 'read');
  // The executor's appends, with their options (seeding goes to `store.inner` directly).
  const appends = jest.spyOn(store, 'append');
  return { store, executor, sleeps, reads, appends };
}

type Tagged = DomainEvent & { readonly tags: readonly string[] };

/** Appends events in no stream, with their tags, bypassing any executor. */
async function tagged(store: EventStore, ...events: Tagged[]): Promise<void> {
  await store.append([], { events: events.map((e) => ({ ...toAppend(e), tags: e.tags })) });
}

function courseDefined(courseId: string, capacity: number): Tagged {
  return { type: 'CourseDefined', data: { courseId, capacity }, tags: [courseTag(courseId)] };
}

function subscribed(studentId: string, courseId: string): Tagged {
  return {
    type: 'StudentSubscribedToCourse',
    data: { courseId, studentId },
    tags: [studentTag(studentId), courseTag(courseId)],
  };
}

/** Every event of the store in log order, as type, tags and data. */
async function log(
  store: SpyStore,
): Promise<{ type: string; tags: readonly string[]; data: unknown }[]> {
  return (await store.allEvents()).map((e) => ({ type: e.type, tags: e.tags, data: e.data }));
}

/** The options of the executor's `n`th append (1-based). */
function appendOptions(appends: jest.SpyInstance, n: number): AppendOptions | undefined {
  return (appends.mock.calls[n - 1] as [readonly StreamWrite[], AppendOptions?])[1];
}

/** Awaits a promise that must reject with `type`, and returns the error. */
async function rejection<T>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => T,
): Promise<T> {
  let settled: { value: unknown } | undefined;
  try {
    settled = { value: await promise };
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    return error as T;
  }
  throw new Error(`expected a ${type.name}, got ${JSON.stringify(settled.value)}`);
}

// ---------------------------------------------------------------------------------------------
// Test-only commands
// ---------------------------------------------------------------------------------------------

type NoteEvent =
  | DomainEvent<'Pointed', { to: string }>
  | DomainEvent<'Noted', { seen: number }>
  | DomainEvent<'Other', Record<string, never>>;

interface NoteView {
  readonly seen: number;
  readonly pointer: string | undefined;
}

/**
 * Reads the events tagged `board`; when the last `Pointed` names a tag, widens the query to the
 * events carrying it and notes how many events it saw, tagged with both.
 */
@Command()
class FollowPointer implements CommandLogic<NoteView, NoteEvent> {
  @IsString() board: string;

  constructor(board: string) {
    this.board = board;
  }

  @Boundary()
  boundary() {
    return query(item({ tags: [this.board] }));
  }

  initialState(): NoteView {
    return { seen: 0, pointer: undefined };
  }

  apply(state: NoteView, event: RecordedEvent<NoteEvent>): NoteView {
    const seen = state.seen + 1;
    return event.type === 'Pointed' ? { seen, pointer: event.data.to } : { ...state, seen };
  }

  handle(state: NoteView, ctx: CommandContext<NoteEvent, FollowPointer>): void {
    const tags = [this.board];
    if (state.pointer !== undefined) {
      ctx.widen(item({ tags: [state.pointer] }));
      if (state.pointer !== this.board) tags.push(state.pointer);
    }
    ctx.append({ type: 'Noted', data: { seen: state.seen }, tags });
  }
}

/** Widens to a new tag in every decision: never converges. */
@Command()
class Wanderer implements CommandLogic<number, NoteEvent> {
  @Boundary()
  boundary() {
    return query(item({ tags: ['start'] }));
  }

  initialState(): number {
    return 0;
  }

  apply(): number {
    return 0;
  }

  handle(_: number, ctx: CommandContext<NoteEvent, Wanderer>): void {
    ctx.widen(item({ tags: [`step-${ctx.query!.items.length}`] }));
  }
}

/** Appends whatever event it is given: to test coverage at run time. */
@Command({ validate: false })
class AppendAnything implements CommandLogic<null, NoteEvent> {
  @Stream() stream: StreamId = streamId('notes-1');

  constructor(
    readonly event: Tagged,
    readonly toStream?: StreamId,
  ) {}

  @Boundary()
  boundary() {
    return query(item({ types: ['Noted'], tags: ['board-1'] }));
  }

  initialState(): null {
    return null;
  }

  apply(): null {
    return null;
  }

  handle(_: null, ctx: CommandContext): void {
    if (this.toStream === undefined) ctx.append(this.event);
    else ctx.emitTo(this.toStream, this.event);
  }
}

type LedgerEvent =
  | DomainEvent<'Charged', { studentId: string; courseId: string }>
  | DomainEvent<'Credited', { amount: number }>;

/**
 * A mixed boundary: a stream (the student's ledger, which pays for the course) and a query (the
 * course). Subscribes and charges in one decision: the subscription in no stream, the charge in
 * the ledger.
 */
@Command()
class PaidSubscription implements CommandLogic<
  { credit: number; seats: number; capacity: number },
  CourseEvent | LedgerEvent
> {
  @Stream() ledger: StreamId;
  @Matches(/^[a-z0-9-]+$/) studentId: string;
  @Matches(/^[a-z0-9-]+$/) courseId: string;

  constructor(studentId: string, courseId: string) {
    this.studentId = studentId;
    this.courseId = courseId;
    this.ledger = streamId(`ledger-${studentId}`);
  }

  @Boundary()
  boundary() {
    return query(
      item({
        types: ['CourseDefined', 'StudentSubscribedToCourse'],
        tags: [courseTag(this.courseId)],
      }),
    );
  }

  initialState() {
    return { credit: 0, seats: 0, capacity: 0 };
  }

  apply(
    state: { credit: number; seats: number; capacity: number },
    event: RecordedEvent<CourseEvent | LedgerEvent>,
  ) {
    switch (event.type) {
      case 'Credited':
        return { ...state, credit: state.credit + event.data.amount };
      case 'Charged':
        return { ...state, credit: state.credit - 1 };
      case 'CourseDefined':
        return { ...state, capacity: event.data.capacity };
      case 'StudentSubscribedToCourse':
        return { ...state, seats: state.seats + 1 };
      default:
        return state;
    }
  }

  handle(
    state: { credit: number; seats: number; capacity: number },
    ctx: CommandContext<CourseEvent | LedgerEvent, PaidSubscription>,
  ): void {
    ctx.require(state.credit > 0, 'no credit', 'ledger.no_credit');
    ctx.require(state.seats < state.capacity, 'course full', CourseRules.full);
    ctx.emit('ledger', {
      type: 'Charged',
      data: { studentId: this.studentId, courseId: this.courseId },
    });
    ctx.append({
      type: 'StudentSubscribedToCourse',
      data: { studentId: this.studentId, courseId: this.courseId },
      tags: [studentTag(this.studentId), courseTag(this.courseId)],
    });
  }
}

const LEDGER_1 = streamId('ledger-s1');

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('CommandExecutor: commands with a boundary query', () => {
  describe('1. one read, fold, one conditional append', () => {
    it('reads the query once (no limit, no readStreams) and appends once with after = the last position read', async () => {
      const { store, executor, reads, appends } = setup();
      await tagged(store.inner, courseDefined('c1', 2), courseDefined('c2', 2));
      await tagged(store.inner, subscribed('s2', 'c1'));
      const positions = (await store.allEvents()).map((e) => e.globalPosition);

      const command = new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT);
      const result = await executor.execute(command);

      expect(reads).toHaveBeenCalledTimes(1);
      expect(reads.mock.calls[0]).toEqual([command.boundary()]);
      expect(store.reads).toEqual([]); // no readStreams: the command has no stream
      expect(appends).toHaveBeenCalledTimes(1);
      expect(appends.mock.calls[0]![0]).toEqual([]);
      const options = appendOptions(appends, 1)!;
      // c1's definition and s2's subscription match; c2's definition does not.
      expect(options.condition).toEqual({
        failIfEventsMatch: command.boundary(),
        after: positions[2],
      });
      expect(options.events!.map((e) => [e.type, e.tags])).toEqual([
        ['StudentSubscribedToCourse', [studentTag('s1'), courseTag('c1')]],
      ]);
      expect(result.events.map((e) => [e.type, e.tags, e.streamVersion])).toEqual([
        ['StudentSubscribedToCourse', [studentTag('s1'), courseTag('c1')], 1],
      ]);
      expect(result.streamVersions).toEqual({});
      expect(result.attempts).toBe(1);
      expect(
        store.comparePositions(result.position, (await store.inner.readStreams([])).position),
      ).toBe(0);
    });

    it('a query that read no event appends with no after: any matching event fails it', async () => {
      const { store, executor, appends } = setup();
      await tagged(store.inner, {
        type: 'UsernameRegistered',
        data: { userId: 'u2', username: 'bob' },
        tags: ['username:bob'],
      });

      await executor.execute(new RegisterUsername('u1', 'alice'));

      expect(appendOptions(appends, 1)!.condition).toEqual({
        failIfEventsMatch: new RegisterUsername('u1', 'alice').boundary(),
        after: undefined,
      });
    });

    it('folds only the events the query matches, in global order', async () => {
      const { store, executor } = setup();
      await tagged(store.inner, courseDefined('c1', 1), courseDefined('c2', 5));
      await tagged(store.inner, subscribed('s2', 'c2'), subscribed('s3', 'c1'));

      // c1 is full with s3; c2's subscription is not c1's and not s1's.
      const error = await rejection(
        executor.execute(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT)),
        BusinessRuleViolationError,
      );
      expect(error.rule).toBe(CourseRules.full);
      await expect(
        executor.execute(new SubscribeStudentToCourse('s1', 'c2', STUDENT_SUBSCRIPTION_LIMIT)),
      ).resolves.toMatchObject({ attempts: 1 });
    });

    it('a decision that appends nothing writes nothing and returns the read position', async () => {
      const { store, executor, appends } = setup();
      await tagged(store.inner, courseDefined('c1', 1));

      const noOp = await executor.execute(new DefineCourseIfMissing('c1', 3));
      expect(noOp.events).toEqual([]);
      expect(appends).not.toHaveBeenCalled();
      expect(
        store.comparePositions(noOp.position, (await store.inner.readStreams([])).position),
      ).toBe(0);
    });

    it('with the state cache on, a query command still reads every time (the cache is keyed by streams)', async () => {
      const { store, executor, reads } = setup({ stateCache: { maxEntries: 10 } });
      await tagged(store.inner, courseDefined('c1', 1), courseDefined('c2', 5));

      await executor.execute(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT)); // c1 is now full
      await executor.execute(new SubscribeStudentToCourse('s2', 'c2', STUDENT_SUBSCRIPTION_LIMIT));
      // Same class, same (empty) stream boundary: a cached state would be c2's, with free places.
      const full = await rejection(
        executor.execute(new SubscribeStudentToCourse('s3', 'c1', STUDENT_SUBSCRIPTION_LIMIT)),
        BusinessRuleViolationError,
      );

      expect(full.rule).toBe(CourseRules.full);
      expect(reads).toHaveBeenCalledTimes(3);
    });

    it('refuses a malformed query before any I/O (a tag built from unvalidated input)', async () => {
      const { store, executor, reads } = setup({ validate: false });

      await rejection(executor.execute(new DefineCourse('bad*id', 1)), InvalidQueryError);

      expect(reads).not.toHaveBeenCalled();
      expect(store.appends).toEqual([]);
    });
  });

  describe('2. a failed condition re-runs the whole command', () => {
    it('re-reads after a matching event slipped in before the append, and decides on it', async () => {
      const { store, executor, sleeps, reads } = setup();
      await tagged(store.inner, courseDefined('c1', 2));
      // A competing subscription lands between the first read and the first append.
      store.hooks.beforeAppend = async (_writes, call) => {
        if (call === 1) await tagged(store.inner, subscribed('s2', 'c1'));
      };

      const result = await executor.execute(
        new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT),
      );

      expect(result.attempts).toBe(2);
      expect(reads).toHaveBeenCalledTimes(2);
      expect(sleeps).toHaveLength(1); // the conflicts' backoff
      expect((await log(store)).map((e) => e.type)).toEqual([
        'CourseDefined',
        'StudentSubscribedToCourse',
        'StudentSubscribedToCourse',
      ]);
    });

    it('the second decision sees the event that failed the first: the course is now full', async () => {
      const { store, executor } = setup();
      await tagged(store.inner, courseDefined('c1', 1));
      store.hooks.beforeAppend = async (_writes, call) => {
        if (call === 1) await tagged(store.inner, subscribed('s2', 'c1'));
      };

      const error = await rejection(
        executor.execute(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT)),
        BusinessRuleViolationError,
      );

      expect(error.rule).toBe(CourseRules.full);
      expect(await log(store)).toHaveLength(2); // the definition and s2's subscription only
    });

    it('an event the query does not match does not fail the condition', async () => {
      const { store, executor } = setup();
      await tagged(store.inner, courseDefined('c1', 2));
      store.hooks.beforeAppend = async () => {
        await tagged(store.inner, subscribed('s2', 'c2'), courseDefined('c3', 1));
      };

      const result = await executor.execute(
        new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT),
      );

      expect(result.attempts).toBe(1);
    });

    it('gives up after maxAttempts with RetriesExhaustedError carrying the last failed condition', async () => {
      const { store, executor, sleeps } = setup({ retry: { maxAttempts: 3 } });
      await tagged(store.inner, courseDefined('c1', 100));
      let n = 0;
      store.hooks.beforeAppend = async () => {
        await tagged(store.inner, subscribed(`x${++n}`, 'c1'));
      };

      const error = await rejection(
        executor.execute(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT)),
        RetriesExhaustedError,
      );

      expect(error.attempts).toBe(3);
      expect(error.lastConflict).toBeInstanceOf(AppendConditionFailedError);
      expect(error.cause).toBe(error.lastConflict);
      expect(sleeps).toHaveLength(2);
    });

    it('a LogHeldBackError propagates at once: the store already waited', async () => {
      const { store, executor, reads, sleeps } = setup();
      reads.mockRejectedValue(new LogHeldBackError(5000, undefined));

      await rejection(executor.execute(new DefineCourse('c1', 1)), LogHeldBackError);

      expect(reads).toHaveBeenCalledTimes(1);
      expect(sleeps).toEqual([]);
      expect(store.appends).toEqual([]);
    });

    it('another store failure on append propagates after one attempt', async () => {
      const { store, executor, sleeps } = setup();
      store.hooks.beforeAppend = () => {
        throw new Error('disk full');
      };

      await expect(executor.execute(new DefineCourse('c1', 1))).rejects.toThrow('disk full');
      expect(store.appends).toHaveLength(1);
      expect(sleeps).toEqual([]);
    });
  });

  describe('3. widening the query', () => {
    it('reads again with the widened query, folds what it adds, and guards the widened query', async () => {
      const { store, executor, reads, appends } = setup();
      await tagged(
        store.inner,
        { type: 'Pointed', data: { to: 'target' }, tags: ['board-1'] },
        { type: 'Other', data: {}, tags: ['target'] },
        { type: 'Other', data: {}, tags: ['target'] },
        { type: 'Other', data: {}, tags: ['elsewhere'] },
      );

      const result = await executor.execute(new FollowPointer('board-1'));

      const widened: EventQuery = { items: [{ tags: ['board-1'] }, { tags: ['target'] }] };
      expect(reads.mock.calls.map(([q]) => q)).toEqual([
        { items: [{ tags: ['board-1'] }] },
        widened,
      ]);
      // The pointer and both events tagged `target`, not the one elsewhere.
      expect(result.events.map((e) => [e.data, e.tags])).toEqual([
        [{ seen: 3 }, ['board-1', 'target']],
      ]);
      const positions = (await store.allEvents()).map((e) => e.globalPosition);
      expect(appendOptions(appends, 1)!.condition).toEqual({
        failIfEventsMatch: widened,
        after: positions[2],
      });
    });

    it('widening with items the query already holds is no new round', async () => {
      const { store, executor, reads } = setup();
      await tagged(store.inner, { type: 'Pointed', data: { to: 'board-1' }, tags: ['board-1'] });

      await executor.execute(new FollowPointer('board-1'));

      expect(reads).toHaveBeenCalledTimes(1);
    });

    it('a widened event that is appended is covered; before widening it is not', async () => {
      const { store, executor } = setup();
      await tagged(store.inner, { type: 'Pointed', data: { to: 'target' }, tags: ['board-1'] });

      const result = await executor.execute(new FollowPointer('board-1'));

      // The appended event carries `board-1` and `target`: covered by both items.
      expect(result.events[0]!.tags).toEqual(['board-1', 'target']);
    });

    it('widening that never converges ends in StreamDiscoveryLimitError after limit + 1 reads', async () => {
      const { executor, reads } = setup({ maxDiscoveryIterations: 3 });

      const error = await rejection(executor.execute(new Wanderer()), StreamDiscoveryLimitError);

      expect(error.limit).toBe(3);
      expect(reads).toHaveBeenCalledTimes(4);
    });

    it('ctx.widen refuses a malformed item', async () => {
      @Command()
      class BadWiden implements CommandLogic<null, NoteEvent> {
        @Boundary() boundary() {
          return query(item({ tags: ['a'] }));
        }
        initialState(): null {
          return null;
        }
        apply(): null {
          return null;
        }
        handle(_: null, ctx: CommandContext<NoteEvent, BadWiden>): void {
          ctx.widen({ tags: ['$reserved'] });
        }
      }
      const { executor, reads } = setup();

      await rejection(executor.execute(new BadWiden()), InvalidQueryError);
      expect(reads).toHaveBeenCalledTimes(1);
    });
  });

  describe('4. every event must be covered by the query (UncoveredEventError)', () => {
    it.each([
      ['a type the query does not name', { type: 'Other', data: {}, tags: ['board-1'] }],
      ['not the tags the query requires', { type: 'Noted', data: {}, tags: ['board-2'] }],
      ['no tags at all', { type: 'Noted', data: {}, tags: [] }],
    ])('ctx.append of an event with %s is refused, and nothing is written', async (_, event) => {
      const { store, executor } = setup();

      const error = await rejection(
        executor.execute(new AppendAnything(event as Tagged)),
        UncoveredEventError,
      );

      expect(error).toMatchObject({
        code: 'eventcore.uncovered_event',
        commandName: 'AppendAnything',
        eventType: event.type,
        tags: event.tags,
      });
      expect(store.appends).toEqual([]);
    });

    it('a covered event with more tags than the query names is accepted', async () => {
      const { executor } = setup();

      const result = await executor.execute(
        new AppendAnything({ type: 'Noted', data: {}, tags: ['board-1', 'extra'] }),
      );

      expect(result.events.map((e) => e.tags)).toEqual([['board-1', 'extra']]);
    });

    it('a stream event with tags must be covered too; without tags it needs no coverage', async () => {
      const { store, executor } = setup();
      const notes = streamId('notes-1');

      await rejection(
        executor.execute(new AppendAnything({ type: 'Other', data: {}, tags: ['x'] }, notes)),
        UncoveredEventError,
      );
      expect(store.appends).toEqual([]);

      const untagged = { type: 'Other', data: {} } as unknown as Tagged;
      const result = await executor.execute(new AppendAnything(untagged, notes));
      expect(result.events.map((e) => [e.streamId, e.tags])).toEqual([[notes, []]]);
    });

    it('a command without @Boundary() may tag stream events, but cannot append or widen', async () => {
      @Command()
      class StreamOnly implements CommandLogic<null, NoteEvent> {
        @Stream() notes: StreamId = streamId('notes-2');
        constructor(readonly how: 'emit' | 'append' | 'widen') {}
        initialState(): null {
          return null;
        }
        apply(): null {
          return null;
        }
        handle(_: null, ctx: CommandContext<NoteEvent>): void {
          if (this.how === 'emit') ctx.emit('notes', { type: 'Other', data: {}, tags: ['t'] });
          if (this.how === 'append') ctx.append({ type: 'Other', data: {}, tags: ['t'] });
          if (this.how === 'widen') ctx.widen(item({ tags: ['t'] }));
        }
      }
      const { store, executor } = setup({ validate: false });

      const emitted = await executor.execute(new StreamOnly('emit'));
      expect(emitted.events.map((e) => e.tags)).toEqual([['t']]);
      for (const how of ['append', 'widen'] as const) {
        await expect(executor.execute(new StreamOnly(how))).rejects.toThrow(
          /needs a boundary query; add a @Boundary\(\) method/,
        );
      }
      expect(store.appends).toHaveLength(1);
    });
  });

  describe('5. idempotency keys', () => {
    it('the same key twice writes once and replays the first result, stream-less events included', async () => {
      const { store, executor } = setup();
      await tagged(store.inner, courseDefined('c1', 5));

      const first = await executor.execute(
        new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT),
        {
          idempotencyKey: 'req-1',
        },
      );
      const second = await executor.execute(
        new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT),
        {
          idempotencyKey: 'req-1',
        },
      );

      expect(first.replayed).toBe(false);
      expect(second).toMatchObject({ replayed: true, commandId: first.commandId });
      expect(second.events).toEqual(first.events);
      expect(second.events).toHaveLength(1);
      const types = (await log(store)).map((e) => e.type);
      expect(types.filter((t) => t === 'StudentSubscribedToCourse')).toHaveLength(1);
      expect(types).toContain(IDEMPOTENCY_RECORD_TYPE);
    });

    it('the same key with other input is an IdempotencyKeyReuseError', async () => {
      const { store, executor } = setup();
      await tagged(store.inner, courseDefined('c1', 5));
      await executor.execute(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT), {
        idempotencyKey: 'k',
      });

      await rejection(
        executor.execute(new SubscribeStudentToCourse('s2', 'c1', STUDENT_SUBSCRIPTION_LIMIT), {
          idempotencyKey: 'k',
        }),
        IdempotencyKeyReuseError,
      );
    });

    it('two concurrent executions with the same key write once', async () => {
      const { store, executor } = setup();
      await tagged(store.inner, courseDefined('c1', 5));
      // Hold every append until both executions have read.
      let bothRead!: () => void;
      const gate = new Promise<void>((resolve) => (bothRead = resolve));
      store.hooks.afterRead = (_ids, call) => {
        if (call === 2) bothRead();
      };
      store.hooks.beforeAppend = () => gate;

      const results = await Promise.all([
        executor.execute(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT), {
          idempotencyKey: 'k',
        }),
        executor.execute(new SubscribeStudentToCourse('s1', 'c1', STUDENT_SUBSCRIPTION_LIMIT), {
          idempotencyKey: 'k',
        }),
      ]);

      expect(results.map((r) => r.replayed).sort()).toEqual([false, true]);
      expect(results[0]!.events).toEqual(results[1]!.events);
      const subscriptions = (await log(store)).filter(
        (e) => e.type === 'StudentSubscribedToCourse',
      );
      expect(subscriptions).toHaveLength(1);
    });

    it('a query for every event does not fold idempotency records', async () => {
      type Counted = DomainEvent<'Counted', { seen: number }>;
      @Command()
      class CountAll implements CommandLogic<number, Counted> {
        @Boundary() boundary() {
          return query();
        }
        initialState(): number {
          return 0;
        }
        apply(seen: number): number {
          return seen + 1;
        }
        handle(seen: number, ctx: CommandContext<Counted, CountAll>): void {
          ctx.append({ type: 'Counted', data: { seen }, tags: [] });
        }
      }
      const { executor } = setup();

      await executor.execute(new CountAll(), { idempotencyKey: 'a' });
      const second = await executor.execute(new CountAll(), { idempotencyKey: 'b' });

      expect(second.events[0]!.data).toEqual({ seen: 1 }); // the first Counted, not its record
    });
  });

  describe('6. streams and a query in one command', () => {
    it('reads both, folds each event once, and appends stream events, stream-less events, guards and the condition in one call', async () => {
      const { store, executor, reads, appends } = setup();
      await seed(store.inner, LEDGER_1, { type: 'Credited', data: { amount: 2 } });
      await tagged(store.inner, courseDefined('c1', 2));
      const apply = jest.spyOn(PaidSubscription.prototype, 'apply');

      try {
        const result = await executor.execute(new PaidSubscription('s1', 'c1'));

        expect(reads).toHaveBeenCalledTimes(1);
        expect(store.reads).toEqual([[LEDGER_1]]);
        expect(apply.mock.calls.map(([, e]) => e.type)).toEqual(['Credited', 'CourseDefined']);
        expect(appends).toHaveBeenCalledTimes(1);
        const [writes, options] = appends.mock.calls[0] as [StreamWrite[], AppendOptions];
        expect(writes.map((w) => [w.streamId, w.expected, w.events.map((e) => e.type)])).toEqual([
          [LEDGER_1, ExpectedVersion.exact(1), ['Charged']],
        ]);
        expect(options.events!.map((e) => e.type)).toEqual(['StudentSubscribedToCourse']);
        expect(options.condition!.after).toBe((await store.allEvents())[1]!.globalPosition);
        expect(result.events.map((e) => e.type)).toEqual(['Charged', 'StudentSubscribedToCourse']);
        expect(result.streamVersions).toEqual({ [LEDGER_1]: 2 });
      } finally {
        apply.mockRestore();
      }
    });

    it('folds an event read by both the stream and the query once', async () => {
      const { store, executor } = setup();
      // The course is defined in the student's ledger stream, tagged: both reads return it.
      await store.inner.append([
        {
          streamId: LEDGER_1,
          expected: ExpectedVersion.any,
          events: [
            { ...toAppend({ type: 'Credited', data: { amount: 5 } }) },
            { ...toAppend(courseDefined('c1', 1)), tags: [courseTag('c1')] },
          ],
        },
      ]);
      const apply = jest.spyOn(PaidSubscription.prototype, 'apply');

      try {
        await executor.execute(new PaidSubscription('s1', 'c1'));
        expect(apply.mock.calls.map(([, e]) => e.type)).toEqual(['Credited', 'CourseDefined']);
      } finally {
        apply.mockRestore();
      }
    });

    it('a failed condition writes neither the stream events nor the stream-less ones', async () => {
      const { store, executor } = setup();
      await seed(store.inner, LEDGER_1, { type: 'Credited', data: { amount: 1 } });
      await tagged(store.inner, courseDefined('c1', 1));
      store.hooks.beforeAppend = async (_writes, call) => {
        if (call === 1) await tagged(store.inner, subscribed('s2', 'c1'));
      };

      const error = await rejection(
        executor.execute(new PaidSubscription('s1', 'c1')),
        BusinessRuleViolationError,
      );

      expect(error.rule).toBe(CourseRules.full);
      expect((await log(store)).map((e) => e.type)).toEqual([
        'Credited',
        'CourseDefined',
        'StudentSubscribedToCourse', // s2's, not s1's
      ]);
    });

    it('a moved stream writes nothing either, and is retried with the new state', async () => {
      const { store, executor } = setup();
      await seed(store.inner, LEDGER_1, { type: 'Credited', data: { amount: 1 } });
      await tagged(store.inner, courseDefined('c1', 5));
      // A competing charge empties the ledger before the first append.
      store.hooks.beforeAppend = async (_writes, call) => {
        if (call === 1)
          await seed(store.inner, LEDGER_1, {
            type: 'Charged',
            data: { studentId: 's1', courseId: 'other' },
          });
      };

      const error = await rejection(
        executor.execute(new PaidSubscription('s1', 'c1')),
        BusinessRuleViolationError,
      );

      expect(error.rule).toBe('ledger.no_credit');
      expect(store.appends).toHaveLength(1);
      expect((await log(store)).map((e) => e.type)).toEqual([
        'Credited',
        'CourseDefined',
        'Charged',
      ]);
    });

    it('a conflict and a failed condition at once are retried as a conflict', async () => {
      const { store, executor, sleeps } = setup();
      await seed(store.inner, LEDGER_1, { type: 'Credited', data: { amount: 3 } });
      await tagged(store.inner, courseDefined('c1', 5));
      let thrown: unknown;
      const append = store.inner.append.bind(store.inner);
      jest.spyOn(store.inner, 'append').mockImplementationOnce(async (writes, options) => {
        await seed(store.inner, LEDGER_1, { type: 'Credited', data: { amount: 1 } });
        await tagged(store.inner, subscribed('s2', 'c1'));
        try {
          return await append(writes, options);
        } catch (error) {
          thrown = error;
          throw error;
        }
      });

      const result = await executor.execute(new PaidSubscription('s1', 'c1'));

      expect(thrown).toBeInstanceOf(ConcurrencyConflictError);
      expect(result.attempts).toBe(2);
      expect(sleeps).toHaveLength(1);
    });
  });
});

/** Defines a course unless it exists: a query command whose decision may append nothing. */
@Command({ name: 'DefineCourseIfMissing' })
class DefineCourseIfMissing extends DefineCourse {
  override handle(defined: boolean, ctx: CommandContext<CourseEvent, DefineCourse>): void {
    if (!defined) super.handle(defined, ctx);
  }
}

describe('@Boundary() definitions', () => {
  it('a command may have a @Boundary() method and no @Stream() property', async () => {
    const executor = new CommandExecutor(new InMemoryEventStore());
    await expect(executor.execute(new DefineCourse('c1', 3))).resolves.toMatchObject({
      attempts: 1,
    });
  });

  it('refuses two @Boundary() methods on one class when it is declared', () => {
    expect(() => {
      @Command()
      class Twice {
        @Boundary() a() {
          return query();
        }
        @Boundary() b() {
          return query();
        }
      }
      return Twice;
    }).toThrow(/@Boundary\(\) is on both a\(\) and b\(\) of Twice/);
  });

  it('refuses a @Boundary() method that does not return a query, before any I/O', async () => {
    @Command()
    class NotAQuery implements CommandLogic<null> {
      @Boundary() boundary() {
        return ['course:c1'] as unknown as EventQuery;
      }
      initialState(): null {
        return null;
      }
      apply(): null {
        return null;
      }
      handle(): void {}
    }
    const { executor, reads } = setup();

    await expect(executor.execute(new NotAQuery())).rejects.toThrow(
      /@Boundary\(\) method boundary\(\) returned object, not an EventQuery/,
    );
    expect(reads).not.toHaveBeenCalled();
  });
});

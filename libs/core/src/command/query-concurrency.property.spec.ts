/**
 * Property tests of commands with a boundary query under concurrency: several executors share one
 * in-memory store, and fast-check's scheduler decides the order in which their reads, appends and
 * backoff waits happen, so that many interleavings are explored (and a failing one is shrunk and
 * replayable). Whatever the interleaving, the append conditions keep the invariants, checked from
 * the log.
 */
import fc from 'fast-check';
import { BusinessRuleViolationError, RetriesExhaustedError } from '../errors';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import type { EventStore } from '../store/event-store';
import { scheduledStore } from '../testing/state-cache.differential';
import { toAppend } from './__fixtures__/bank.commands';
import {
  courseInvariantViolations,
  courseTag,
  RegisterUsername,
  STUDENT_SUBSCRIPTION_LIMIT,
  SubscribeStudentToCourse,
  UnsubscribeStudentFromCourse,
} from './__fixtures__/course.commands';
import { CommandExecutor } from './command-executor';
import type { CommandResult } from './command-result';

const NUM_RUNS = 60;
// More courses than a student may hold, few students: both limits are reached.
const COURSES = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
const STUDENTS = ['s0', 's1', 's2'];

function executorOn(s: fc.Scheduler, store: EventStore): CommandExecutor {
  return new CommandExecutor(store, {
    random: () => 0.5,
    retry: { maxAttempts: 50 },
    // Backoff waits are scheduled too: a retry may be overtaken by anything else.
    sleep: () => s.schedule(Promise.resolve(), 'backoff'),
  });
}

/** Defines the courses, with these capacities, in no stream. */
async function defineCourses(store: EventStore, capacities: readonly number[]): Promise<void> {
  await store.append([], {
    events: COURSES.map((courseId, i) => ({
      ...toAppend({ type: 'CourseDefined', data: { courseId, capacity: capacities[i] } }),
      tags: [courseTag(courseId)],
    })),
  });
}

/** Rejections a command may end in under contention: a business rule, or too many retries. */
function expectAllowed(outcomes: readonly PromiseSettledResult<unknown>[]): void {
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') {
      const allowed =
        outcome.reason instanceof BusinessRuleViolationError ||
        outcome.reason instanceof RetriesExhaustedError;
      expect({ allowed, reason: String(outcome.reason) }).toEqual({
        allowed: true,
        reason: expect.any(String),
      });
    }
  }
}

describe('query-boundary concurrency properties (fast-check scheduler, several executors)', () => {
  it('concurrent subscriptions and unsubscriptions never over-subscribe a course or a student', async () => {
    const action = fc.record({
      // Mostly subscriptions, so that courses fill up and students reach their limit.
      unsubscribe: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
      student: fc.constantFrom(...STUDENTS),
      course: fc.constantFrom(...COURSES),
      executor: fc.nat(2),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(fc.integer({ min: 1, max: 3 }), {
          minLength: COURSES.length,
          maxLength: COURSES.length,
        }),
        fc.array(action, { minLength: 2, maxLength: 24 }),
        async (s, capacities, actions) => {
          const inner = new InMemoryEventStore();
          await defineCourses(inner, capacities);
          const store = scheduledStore(s, inner);
          const executors = [0, 1, 2].map(() => executorOn(s, store));

          const outcomes = await s.waitFor(
            Promise.allSettled(
              actions.map((a) => {
                const executor = executors[a.executor]!;
                return a.unsubscribe
                  ? executor.execute(new UnsubscribeStudentFromCourse(a.student, a.course))
                  : executor.execute(
                      new SubscribeStudentToCourse(a.student, a.course, STUDENT_SUBSCRIPTION_LIMIT),
                    );
              }),
            ),
          );

          expectAllowed(outcomes);
          const log = (await inner.readAll({ limit: 10_000 })).events;
          expect(courseInvariantViolations(log)).toEqual([]);
          // Every command that succeeded wrote exactly its one event, and no failed one wrote any.
          const written = log.filter((e) => e.metadata.correlationId !== 'seed');
          const succeeded = outcomes.filter(
            (o): o is PromiseFulfilledResult<CommandResult> => o.status === 'fulfilled',
          );
          expect(written.map((e) => e.id).sort()).toEqual(
            succeeded.flatMap((o) => o.value.events.map((e) => e.id)).sort(),
          );
          expect(succeeded.every((o) => o.value.events.length === 1)).toBe(true);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it(`one student subscribing to ${COURSES.length} courses at once gets exactly ${STUDENT_SUBSCRIPTION_LIMIT}`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        const inner = new InMemoryEventStore();
        await defineCourses(
          inner,
          COURSES.map(() => 1),
        );
        const store = scheduledStore(s, inner);
        const executors = [0, 1].map(() => executorOn(s, store));

        const outcomes = await s.waitFor(
          Promise.allSettled(
            COURSES.map((course, i) =>
              executors[i % 2]!.execute(
                new SubscribeStudentToCourse('s0', course, STUDENT_SUBSCRIPTION_LIMIT),
              ),
            ),
          ),
        );

        expectAllowed(outcomes);
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(
          STUDENT_SUBSCRIPTION_LIMIT,
        );
        const log = (await inner.readAll({ limit: 10_000 })).events;
        expect(courseInvariantViolations(log)).toEqual([]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('of concurrent registrations of one username, exactly one succeeds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 2, max: 8 }), async (s, n) => {
        const inner = new InMemoryEventStore();
        const store = scheduledStore(s, inner);
        const executors = [0, 1].map(() => executorOn(s, store));

        const outcomes = await s.waitFor(
          Promise.allSettled(
            Array.from({ length: n }, (_, i) =>
              executors[i % 2]!.execute(new RegisterUsername(`u${i}`, 'alice')),
            ),
          ),
        );

        expectAllowed(outcomes);
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const log = (await inner.readAll({ limit: 10_000 })).events;
        expect(log.map((e) => e.type)).toEqual(['UsernameRegistered']);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

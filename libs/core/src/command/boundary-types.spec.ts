/**
 * What TypeScript catches about a command's boundary query. The type checker (`npm run lint`
 * runs `tsc` over the specs) proves each `@ts-expect-error` below meets an error; the tests prove
 * that the same mistakes, made anyway (the compiler told to look away), are refused at run time.
 */
import type { DomainEvent } from '../events/event';
import { InvalidCommandError, UncoveredEventError } from '../errors';
import { InMemoryEventStore } from '../memory/in-memory.event-store';
import type { EventQuery, QueryItem } from '../store/event-query';
import type { StreamId } from '../store/stream-id';
import {
  type CourseEvent,
  courseTag,
  studentTag,
  SubscribeStudentToCourse,
} from './__fixtures__/course.commands';
import { item, query } from './boundary-query';
import { Boundary, Command, Stream } from './command.decorators';
import { CommandExecutor } from './command-executor';
import type { BoundaryEventType, CommandContext, CommandLogic } from './command-logic';

/** True when `A` and `B` are the same type. */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | undefined {
  return undefined;
}

type Mistake = 'uncovered-type' | 'untagged';

/** Its boundary covers the course's definition only. */
@Command({ validate: false })
class DefinitionOnly implements CommandLogic<null, CourseEvent> {
  constructor(readonly mistake: Mistake) {}

  @Boundary()
  boundary() {
    return query(item({ types: ['CourseDefined'], tags: [courseTag('c1')] }));
  }

  initialState(): null {
    return null;
  }

  apply(): null {
    return null;
  }

  handle(_: null, ctx: CommandContext<CourseEvent, DefinitionOnly>): void {
    ctx.append({
      type: 'CourseDefined',
      data: { courseId: 'c1', capacity: 1 },
      tags: [courseTag('c1')],
    });
    if (this.mistake === 'uncovered-type') {
      const subscription = {
        type: 'StudentSubscribedToCourse',
        data: { courseId: 'c1', studentId: 's1' },
        tags: [studentTag('s1'), courseTag('c1')],
      } as const;
      // @ts-expect-error -- the boundary does not cover StudentSubscribedToCourse
      ctx.append(subscription);
    } else {
      const untagged = { type: 'CourseDefined', data: { courseId: 'c1', capacity: 1 } } as const;
      // @ts-expect-error -- an appended event needs its tags
      ctx.append(untagged);
    }
  }
}

/** A streams-only command: `ctx.append` accepts nothing. */
@Command()
class StreamsOnly implements CommandLogic<null, CourseEvent> {
  @Stream() course: StreamId = 'course-c1' as StreamId;

  initialState(): null {
    return null;
  }

  apply(): null {
    return null;
  }

  handle(_: null, ctx: CommandContext<CourseEvent, StreamsOnly>): void {
    // A stream event may carry tags.
    ctx.emit('course', {
      type: 'CourseDefined',
      data: { courseId: 'c1', capacity: 1 },
      tags: [courseTag('c1')],
    });
    const definition = {
      type: 'CourseDefined',
      data: { courseId: 'c1', capacity: 1 },
      tags: [courseTag('c1')],
    } as const;
    // @ts-expect-error -- a command without @Boundary() has no query to cover the event
    ctx.append(definition);
  }
}

describe('boundary types', () => {
  it('the builders type a query by the event types its items name', () => {
    const typed = query(
      item({ types: ['A', 'B'], tags: ['x'] }),
      item({ types: ['C'], tags: ['y'] }),
    );
    assertType<Equal<typeof typed, EventQuery<'A' | 'B' | 'C'>>>();
    // An item without types, or with none, covers every type; so does a query without items.
    const anyType = query(item({ types: ['A'] }), item({ tags: ['x'] }));
    assertType<Equal<typeof anyType, EventQuery<string>>>();
    expect(anyType.items).toEqual([{ types: ['A'] }, { tags: ['x'] }]);
    assertType<Equal<ReturnType<typeof item<never>>, QueryItem<string>>>();
    assertType<Equal<ReturnType<typeof query<[]>>, EventQuery<string>>>();
    // A narrower query is still an EventQuery, for the store and the append condition.
    const plain: EventQuery = typed;
    expect(plain.items).toEqual([
      { types: ['A', 'B'], tags: ['x'] },
      { types: ['C'], tags: ['y'] },
    ]);
  });

  it('a command class names the event types its boundary covers', () => {
    assertType<
      Equal<
        BoundaryEventType<SubscribeStudentToCourse>,
        | 'CourseDefined'
        | 'CourseCapacityChanged'
        | 'StudentSubscribedToCourse'
        | 'StudentUnsubscribedFromCourse'
      >
    >();
    assertType<Equal<BoundaryEventType<DefinitionOnly>, 'CourseDefined'>>();
    assertType<Equal<BoundaryEventType<StreamsOnly>, never>>();
    // Without the command class, the context accepts every event of the union.
    assertType<Equal<BoundaryEventType<unknown>, never>>();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- CommandContext's default
    assertType<Equal<BoundaryEventType<any>, string>>();
  });

  it('an untyped context appends any event of the union, with tags', async () => {
    type Note = DomainEvent<'Noted', { n: number }>;
    @Command()
    class Untyped implements CommandLogic<null, Note> {
      @Boundary() boundary() {
        return query(item({ tags: ['n'] }));
      }
      initialState(): null {
        return null;
      }
      apply(): null {
        return null;
      }
      handle(_: null, ctx: CommandContext<Note>): void {
        ctx.append({ type: 'Noted', data: { n: 1 }, tags: ['n'] });
      }
    }
    const result = await new CommandExecutor(new InMemoryEventStore()).execute(new Untyped());
    expect(result.events.map((e) => e.tags)).toEqual([['n']]);
  });

  it.each<Mistake>(['uncovered-type', 'untagged'])(
    'the mistake the compiler catches (%s) is refused at run time too, and nothing is written',
    async (mistake) => {
      const store = new InMemoryEventStore();
      const executor = new CommandExecutor(store);

      await expect(executor.execute(new DefinitionOnly(mistake))).rejects.toThrow(
        UncoveredEventError,
      );
      expect((await store.readAll({ limit: 10 })).events).toEqual([]);
    },
  );

  it('a streams-only command that appends anyway is refused at run time, and nothing is written', async () => {
    const store = new InMemoryEventStore();

    await expect(new CommandExecutor(store).execute(new StreamsOnly())).rejects.toThrow(
      InvalidCommandError,
    );
    expect((await store.readAll({ limit: 10 })).events).toEqual([]);
  });
});

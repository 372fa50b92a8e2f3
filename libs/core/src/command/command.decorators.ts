import 'reflect-metadata';
import { registerDecorator } from 'class-validator';
import type { RetryOptions } from './retry-options';
import type { CommandSnapshotOptions } from '../snapshot/snapshot-options';
import { streamIdProblem } from '../store/stream-id';

/** Metadata key of {@link Command}. */
export const COMMAND_METADATA = 'eventcore:command';
/** Metadata key listing a command's {@link Stream} properties. */
export const STREAM_PROPERTIES_METADATA = 'eventcore:stream-properties';
/** Metadata key naming a command's {@link Boundary} method. */
export const BOUNDARY_METHOD_METADATA = 'eventcore:boundary-method';

/** Options of {@link Command}; they override the executor's defaults for this command. */
export interface CommandOptions {
  /** Name used in errors, metadata and idempotency records. @default the class name */
  readonly name?: string;
  /** Retry overrides for this command, field by field. */
  readonly retry?: RetryOptions;
  /** Validate input with class-validator before any I/O. @default true */
  readonly validate?: boolean;
  /** Most rounds of dynamic stream discovery. @default the executor's (8) */
  readonly maxDiscoveryIterations?: number;
  /**
   * Set to false when `initialState` or `apply` read the command's own fields, so its state must
   * not be reused across instances with the same streams. @default true (when the executor caches)
   */
  readonly stateCache?: boolean;
  /**
   * Persisted snapshots of this command's state (needs the executor's `snapshots` option): an
   * object opts in (or tunes the module-wide policy), `false` opts out. Refused on a command with a
   * `@Boundary()` query or with `stateCache: false`. @default the executor's policy
   */
  readonly snapshot?: CommandSnapshotOptions | false;
}

/**
 * Marks a class as a command: its `@Stream()` properties and its `@Boundary()` query (at least one
 * of them) form its consistency boundary, and it implements {@link CommandLogic}. Pass an instance
 * to `CommandExecutor.execute` or `CommandBus.execute`.
 */
export function Command(options: CommandOptions = {}): ClassDecorator {
  return (target) => {
    Reflect.defineMetadata(COMMAND_METADATA, { ...options }, target);
  };
}

/**
 * Marks a property as part of the command's consistency boundary. It holds one `StreamId` or an
 * array of them; input validation checks every id.
 */
export function Stream(): PropertyDecorator {
  return (target, propertyKey) => {
    if (typeof propertyKey !== 'string')
      throw new TypeError('@Stream() needs a string property name');
    const ctor = target.constructor;
    const inherited: string[] = Reflect.getMetadata(STREAM_PROPERTIES_METADATA, ctor) ?? [];
    Reflect.defineMetadata(STREAM_PROPERTIES_METADATA, [...inherited, propertyKey], ctor);
    registerDecorator({
      name: 'isStreamId',
      target: ctor,
      propertyName: propertyKey,
      validator: {
        validate: (value: unknown) => streamValueProblem(value) === undefined,
        defaultMessage: (args) =>
          `${args?.property ?? propertyKey} must be a stream id or an array of stream ids: ${streamValueProblem(args?.value) ?? ''}`,
      },
    });
  };
}

/**
 * Marks the method that returns the command's DCB boundary: the `EventQuery` of the events its
 * decision depends on, built from its (validated) fields with the `query` and `item` builders, so
 * that `ctx.append` knows the event types it covers. The executor reads the events matching it,
 * folds them (with the events of any `@Stream()` properties), and appends with an append condition
 * on that query: no matching event can slip in between the read and the append. One per class;
 * the method takes no arguments.
 * @example
 * ```ts
 * @Boundary()
 * boundary() {
 *   return query(item({ types: ['CourseDefined'], tags: ['course:' + this.courseId] }));
 * }
 * ```
 */
export function Boundary(): MethodDecorator {
  return (target, propertyKey) => {
    if (typeof propertyKey !== 'string')
      throw new TypeError('@Boundary() needs a method with a string name');
    const ctor = target.constructor;
    const own: string | undefined = Reflect.getOwnMetadata(BOUNDARY_METHOD_METADATA, ctor);
    if (own !== undefined && own !== propertyKey) {
      throw new TypeError(
        `@Boundary() is on both ${own}() and ${propertyKey}() of ${ctor.name}; a command has one boundary query (combine the items in one)`,
      );
    }
    Reflect.defineMetadata(BOUNDARY_METHOD_METADATA, propertyKey, ctor);
  };
}

function streamValueProblem(value: unknown): string | undefined {
  const values = Array.isArray(value) ? value : [value];
  for (const item of values) {
    const problem = streamIdProblem(item);
    if (problem !== undefined) return problem;
    if ((item as string).trim() !== item) return 'it has leading or trailing whitespace';
  }
  return undefined;
}

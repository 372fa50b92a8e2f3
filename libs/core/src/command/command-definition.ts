import 'reflect-metadata';
import { getMetadataStorage } from 'class-validator';
import { ErrorMessages, InvalidCommandError, InvalidStreamIdError } from '../errors';
import type { EventQuery } from '../store/event-query';
import { validateQuery } from '../store/event-query.validation';
import { type StreamId, streamIdProblem } from '../store/stream-id';
import {
  BOUNDARY_METHOD_METADATA,
  COMMAND_METADATA,
  type CommandOptions,
  STREAM_PROPERTIES_METADATA,
} from './command.decorators';
import type { CommandLogic } from './command-logic';

/** What the executor knows about a command class, read once from its decorators. */
export interface CommandDefinition {
  readonly name: string;
  readonly streamProperties: readonly string[];
  /** The `@Boundary()` method returning the command's query; undefined for a streams-only command. */
  readonly boundaryMethod: string | undefined;
  readonly options: CommandOptions;
  /** The decorated class itself. */
  readonly commandClass: CommandClass;
}

type CommandClass = abstract new (...args: never[]) => unknown;

const definitions = new WeakMap<object, CommandDefinition>();

/**
 * Reads (and caches) the definition of a command class.
 * @throws InvalidCommandError when the class is not decorated or lacks the command methods.
 */
export function commandDefinition(command: object): CommandDefinition {
  const ctor = (command as { constructor: object }).constructor;
  const cached = definitions.get(ctor);
  if (cached !== undefined) return cached;
  const className = (ctor as { name?: string }).name || 'anonymous class';
  // Own metadata only: a subclass must be decorated itself, or it would run under its parent's
  // options with its own name (and a different idempotency scope).
  const options: CommandOptions | undefined = Reflect.getOwnMetadata(COMMAND_METADATA, ctor);
  if (options === undefined) throw new InvalidCommandError(className);
  const name = options.name ?? className;
  const logic = command as Partial<CommandLogic<unknown>>;
  for (const method of ['initialState', 'apply', 'handle'] as const) {
    if (typeof logic[method] !== 'function') {
      throw new InvalidCommandError(name, `it has no ${method}() method; implement CommandLogic`);
    }
  }
  const streamProperties: string[] = Reflect.getMetadata(STREAM_PROPERTIES_METADATA, ctor) ?? [];
  const boundaryMethod: string | undefined = Reflect.getMetadata(BOUNDARY_METHOD_METADATA, ctor);
  const definition: CommandDefinition = {
    name,
    streamProperties: [...new Set(streamProperties)],
    boundaryMethod,
    options,
    commandClass: ctor as CommandClass,
  };
  if (definition.streamProperties.length === 0 && boundaryMethod === undefined) {
    throw new InvalidCommandError(
      name,
      'it has neither a @Stream() property nor a @Boundary() method; declare the streams of its boundary, its query, or both',
    );
  }
  if (
    boundaryMethod !== undefined &&
    typeof (command as Record<string, unknown>)[boundaryMethod] !== 'function'
  ) {
    throw new InvalidCommandError(
      name,
      `its @Boundary() member ${boundaryMethod} is not a method returning an EventQuery`,
    );
  }
  definitions.set(ctor, definition);
  return definition;
}

/**
 * The streams declared by the command's `@Stream()` properties, deduplicated, in declaration order.
 * @throws InvalidStreamIdError for a value that is not a valid stream id (also when validation is off).
 */
export function declaredStreams(command: object, definition: CommandDefinition): StreamId[] {
  const properties = definition.streamProperties;
  if (properties.length === 0) return [];
  const first = (command as Record<string, unknown>)[properties[0]!];
  if (properties.length === 1 && !Array.isArray(first)) {
    return [checkedStream(first, definition, properties[0]!)]; // the usual case: nothing to merge
  }
  const ids = new Set<StreamId>();
  for (const property of properties) {
    const value = (command as Record<string, unknown>)[property];
    for (const id of Array.isArray(value) ? value : [value]) {
      ids.add(checkedStream(id, definition, property));
    }
  }
  return [...ids];
}

/**
 * The query returned by the command's `@Boundary()` method, checked before any I/O; undefined for a
 * command without one.
 * @throws InvalidCommandError when the method does not return a query object (a programming error).
 * @throws InvalidQueryError when the query is malformed, e.g. a tag built from invalid input.
 */
export function declaredQuery(
  command: object,
  definition: CommandDefinition,
): EventQuery | undefined {
  const method = definition.boundaryMethod;
  if (method === undefined) return undefined;
  const query: unknown = (command as Record<string, () => unknown>)[method]!();
  if (
    typeof query !== 'object' ||
    query === null ||
    !Array.isArray((query as { items?: unknown }).items)
  ) {
    throw new InvalidCommandError(
      definition.name,
      `its @Boundary() method ${method}() returned ${query === null ? 'null' : typeof query}, not an EventQuery ({ items: [...] }); build it with query(item(...))`,
    );
  }
  validateQuery(query, `${definition.name}.${method}()`);
  return query;
}

function checkedStream(id: unknown, definition: CommandDefinition, property: string): StreamId {
  // Same rule as the @Stream() validator (an id is used exactly as given, never trimmed), so that
  // the boundary read is exactly the id the command holds.
  const problem = streamIdProblem(id);
  if (problem !== undefined)
    throw new InvalidStreamIdError(id, `${definition.name}.${property}: ${problem}`);
  return id as StreamId;
}

/** The undecorated properties of a class, and which of them hold functions on a new instance. */
interface Undecorated {
  readonly properties: readonly string[];
  readonly functions: readonly string[];
}

const NONE: Undecorated = { properties: [], functions: [] };
const undecoratedByClass = new WeakMap<CommandDefinition, Undecorated>();

/**
 * Refuses a command class that input validation (whitelist, `forbidNonWhitelisted`) would refuse
 * on every call: one that defines a property with neither `@Stream()` nor a class-validator
 * decorator. That is a mistake in the class, not in the caller's input, so it is reported as such
 * (a 500 over HTTP) instead of as a 400 "property … should not exist" on every request.
 *
 * Call it only for commands that are validated: with validation off such a property is harmless.
 * The class is examined once: its constructor is called once without arguments, and the own
 * enumerable properties of that instance are the ones the class defines (field declarations,
 * parameter properties, constructor assignments). The instance being executed is not used, since
 * properties added to it after construction are input, and refusing those stays a 400. A
 * constructor that throws without arguments cannot be examined, and a property the constructor
 * leaves unset without arguments (an optional field under `useDefineForClassFields: false`, a
 * conditional assignment) is not seen; those classes get the 400 as before.
 * @throws InvalidCommandError naming the class and every undecorated property.
 */
export function checkPropertiesDecorated(definition: CommandDefinition): void {
  let undecorated = undecoratedByClass.get(definition);
  if (undecorated === undefined) {
    undecorated = undecoratedProperties(definition);
    undecoratedByClass.set(definition, undecorated);
  }
  if (undecorated.properties.length > 0) {
    throw new InvalidCommandError(
      definition.name,
      ErrorMessages.undecoratedCommandProperties(
        definition.commandClass.name || 'anonymous class',
        undecorated.properties,
        undecorated.functions,
      ),
      undecorated.properties,
    );
  }
}

function undecoratedProperties(definition: CommandDefinition): Undecorated {
  let probe: unknown;
  try {
    probe = Reflect.construct(definition.commandClass, []);
  } catch {
    return NONE; // needs its arguments: nothing can be learnt without them
  }
  if (typeof probe !== 'object' || probe === null) return NONE;
  // The selection class-validator's whitelist makes for `validate(object)`: no groups, and any
  // metadata (a rule, @IsOptional, @ValidateIf, @Allow, @Stream) allows the property.
  const decorated = new Set(
    getMetadataStorage()
      .getTargetValidationMetadatas(
        definition.commandClass,
        undefined as unknown as string,
        false,
        false,
      )
      .map((metadata) => metadata.propertyName),
  );
  const properties = Object.keys(probe).filter(
    (key) => !decorated.has(key) && !definition.streamProperties.includes(key),
  );
  if (properties.length === 0) return NONE;
  const values = probe as Record<string, unknown>;
  return {
    properties,
    functions: properties.filter((key) => typeof values[key] === 'function'),
  };
}

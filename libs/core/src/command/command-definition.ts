import 'reflect-metadata';
import { InvalidCommandError, InvalidStreamIdError } from '../errors';
import { type StreamId, streamIdProblem } from '../store/stream-id';
import {
  COMMAND_METADATA,
  type CommandOptions,
  STREAM_PROPERTIES_METADATA,
} from './command.decorators';
import type { CommandLogic } from './command-logic';

/** What the executor knows about a command class, read once from its decorators. */
export interface CommandDefinition {
  readonly name: string;
  readonly streamProperties: readonly string[];
  readonly options: CommandOptions;
}

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
  const definition = { name, streamProperties: [...new Set(streamProperties)], options };
  if (definition.streamProperties.length === 0) {
    throw new InvalidCommandError(
      name,
      'it has no @Stream() property; declare the streams of its boundary',
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

function checkedStream(id: unknown, definition: CommandDefinition, property: string): StreamId {
  // Same rule as the @Stream() validator (an id is used exactly as given, never trimmed), so that
  // the boundary read is exactly the id the command holds.
  const problem = streamIdProblem(id);
  if (problem !== undefined)
    throw new InvalidStreamIdError(id, `${definition.name}.${property}: ${problem}`);
  return id as StreamId;
}

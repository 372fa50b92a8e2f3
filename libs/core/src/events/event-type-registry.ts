import { createHash } from 'node:crypto';
import { EventDecodeError, InvalidOptionsError } from '../errors';
import type { RecordedEvent } from './event';
import { type EventSerializer, JSON_ENCODING } from './event-serializer';

const FORMAT = /^[a-z0-9.-]{1,32}$/;

/** Turns the data of schema version n into version n + 1. Pure; throw to refuse. */
export type Upcaster = (data: unknown, event: RecordedEvent) => unknown;

/** An event type with its current schema version and the upcasters from every older version. */
export interface EventTypeDefinition {
  readonly type: string;
  /** Current schema version (written with new events). @default 1 */
  readonly version?: number;
  /** `upcasters[n]` turns version n into n + 1; one for each n from 1 to version − 1. */
  readonly upcasters?: Readonly<Record<number, Upcaster>>;
  /** Store this type's data with a binary serializer instead of JSON. @default JSON */
  readonly serializer?: EventSerializer;
}

interface Registered {
  readonly version: number;
  readonly upcasters: Readonly<Record<number, Upcaster>>;
  readonly serializer: EventSerializer | undefined;
}

/**
 * Event types and their schema versions. New events are written with the current version; stored
 * events of older versions are upcast on read, for commands and projections alike. Types that are
 * not registered are at version 1 and pass through unchanged.
 */
export class EventTypeRegistry {
  private readonly types = new Map<string, Registered>();
  /** Serializers by format, to decode stored events whatever their type's current serializer. */
  private readonly formats = new Map<string, EventSerializer>();
  private digest: string | undefined;

  constructor(definitions: readonly EventTypeDefinition[] = []) {
    for (const definition of definitions) this.register(definition);
  }

  /**
   * Registers a type.
   * @throws InvalidOptionsError for a duplicate type, a bad version or a missing step in the chain.
   */
  register(definition: EventTypeDefinition): this {
    const { type, version = 1, upcasters = {}, serializer } = definition;
    if (typeof type !== 'string' || type.length === 0)
      throw new InvalidOptionsError('event type', 'give a non-empty type name');
    if (this.types.has(type))
      throw new InvalidOptionsError(`event type "${type}"`, 'it is registered twice');
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new InvalidOptionsError(
        `event type "${type}"`,
        `version must be an integer >= 1, not ${String(version)}`,
      );
    }
    for (let n = 1; n < version; n++) {
      if (typeof upcasters[n] !== 'function') {
        throw new InvalidOptionsError(
          `event type "${type}"`,
          `an upcaster from version ${n} to ${n + 1} is missing`,
        );
      }
    }
    if (serializer !== undefined) {
      const format = serializer.format;
      if (typeof format !== 'string' || !FORMAT.test(format) || format === JSON_ENCODING) {
        throw new InvalidOptionsError(
          `serializer of "${type}"`,
          'its format must be 1–32 of a-z 0-9 . - and not "json"',
        );
      }
      const known = this.formats.get(format);
      if (
        known !== undefined &&
        known !== serializer &&
        known.constructor !== serializer.constructor
      ) {
        throw new InvalidOptionsError(
          `serializer of "${type}"`,
          `format "${format}" is already used by another serializer`,
        );
      }
      this.formats.set(format, serializer);
    }
    this.types.set(type, { version, upcasters, serializer });
    this.digest = undefined;
    return this;
  }

  /**
   * Encodes new event data for storage: JSON values stay as they are; a type with a serializer
   * becomes the base64 of its bytes, tagged with the serializer's format.
   */
  encode(type: string, data: unknown): { data: unknown; encoding: string | undefined } {
    const serializer = this.types.get(type)?.serializer;
    if (serializer === undefined) return { data, encoding: undefined };
    return {
      data: Buffer.from(serializer.serialize(data)).toString('base64'),
      encoding: serializer.format,
    };
  }

  /**
   * A digest of everything that decides how a stored event is decoded: each registered type with
   * its current schema version, the source text of its upcasters and its serializer's format.
   * Persisted command-state snapshots carry it and are ignored when it differs, since a changed
   * upcaster could change every fold. An upcaster that reads a variable outside its own text (a
   * closure, an import) changes the fold without changing the digest: bump the command's
   * `stateVersion` then.
   */
  fingerprint(): string {
    if (this.digest !== undefined) return this.digest;
    const hash = createHash('sha256');
    for (const type of [...this.types.keys()].sort()) {
      const { version, upcasters, serializer } = this.types.get(type)!;
      hash.update(JSON.stringify([type, version, serializer?.format ?? null]));
      for (let n = 1; n < version; n++) hash.update(String(upcasters[n]));
      hash.update('\u0000');
    }
    return (this.digest = hash.digest('base64url'));
  }

  /** The version new events of `type` are written with. */
  currentVersion(type: string): number {
    return this.types.get(type)?.version ?? 1;
  }

  /**
   * The event in its current shape: the same object when already current, else a new frozen event
   * with upcast data and the current `schemaVersion`.
   * @throws EventDecodeError when an upcaster is missing or throws, or the stored version is newer
   * than this code knows.
   */
  upcast<E extends RecordedEvent>(event: E): E {
    const registered = this.types.get(event.type);
    const current = registered?.version ?? 1;
    const encoded = event.encoding !== undefined && event.encoding !== JSON_ENCODING;
    if (event.schemaVersion === current && !encoded) return event;
    const fail = (reason: string, cause?: unknown) =>
      new EventDecodeError(event.id, event.streamId, event.type, event.schemaVersion, reason, {
        cause,
      });
    if (event.schemaVersion > current) {
      throw fail(
        `this code knows version ${current} at most; deploy the newer code before reading it`,
      );
    }
    let data = encoded ? this.decodeBytes(event, fail) : (event.data as unknown);
    for (let n = event.schemaVersion; n < current; n++) {
      const upcaster = registered?.upcasters[n];
      if (upcaster === undefined) throw fail(`no upcaster from version ${n} to ${n + 1}`);
      try {
        data = upcaster(data, event);
      } catch (error) {
        throw fail(
          `the upcaster from version ${n} to ${n + 1} failed: ${(error as Error).message}`,
          error,
        );
      }
    }
    return Object.freeze({ ...event, data, schemaVersion: current, encoding: JSON_ENCODING });
  }

  private decodeBytes(
    event: RecordedEvent,
    fail: (reason: string, cause?: unknown) => EventDecodeError,
  ): unknown {
    const serializer = this.formats.get(event.encoding!);
    if (serializer === undefined)
      throw fail(`no serializer is registered for format "${event.encoding}"`);
    if (typeof event.data !== 'string')
      throw fail(`${event.encoding} data must be stored as base64 text`);
    try {
      return serializer.deserialize(Buffer.from(event.data, 'base64'));
    } catch (error) {
      throw fail(
        `the ${event.encoding} data cannot be decoded: ${(error as Error).message}`,
        error,
      );
    }
  }
}

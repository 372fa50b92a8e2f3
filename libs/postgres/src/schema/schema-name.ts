import { InvalidOptionsError } from '@eventcore/core';

/** Schema used when none is given. */
export const DEFAULT_SCHEMA = 'eventcore';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,47}$/;

/**
 * Checks a schema name. Names are restricted to lower-case identifiers so that they can be
 * embedded in DDL and statement names without quoting surprises (they are still quoted).
 * @throws InvalidOptionsError
 */
export function checkSchemaName(schema: unknown): string {
  if (typeof schema !== 'string' || !IDENTIFIER.test(schema)) {
    throw new InvalidOptionsError(
      'schema',
      `use 1–48 lower-case letters, digits or underscores, starting with a letter or underscore, not ${JSON.stringify(schema)}`,
    );
  }
  return schema;
}

/** `"schema"`, for DDL and queries. */
export function quoted(schema: string): string {
  return `"${schema}"`;
}

/** The LISTEN/NOTIFY channel on which the store announces committed appends. */
export function notificationChannel(schema: string): string {
  return `${schema}_events`;
}

// Advisory lock namespaces (first key of the two-key form, which never collides with one-key
// locks): "EC" followed by a small number.
export const POSITION_LOCK_NAMESPACE = 0x45430001;
export const MIGRATION_LOCK_NAMESPACE = 0x45430002;
export const STREAM_LOCK_NAMESPACE = 0x45430003;
/**
 * DCB locks (schema version 6), second key `hashtext('<schema>:' || name)` where name is
 * `type:<event type>`, `tag:<tag>` or `all:`. Writers hold them shared on what they write; a
 * conditional append holds exclusively what its condition's query names (see `dcb.sql.ts`).
 */
export const DCB_LOCK_NAMESPACE = 0x45430004;

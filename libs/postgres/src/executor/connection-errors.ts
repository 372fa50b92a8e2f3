// Errors that mean "the database is not there", as opposed to "the database said no".
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
]);

// SQLSTATEs of a server that is shutting down, starting, or out of connection slots.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '53400']);

// node-postgres reports these without a code.
const PG_MESSAGES = [
  'Connection terminated',
  'connection timeout',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'Connection ended unexpectedly',
];

/** True when `error` means the database is unreachable or the connection broke. */
export function isConnectionFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))
      return true;
  }
  const nested = (error as { errors?: unknown }).errors; // AggregateError from dual-stack connects
  if (Array.isArray(nested) && nested.some(isConnectionFailure)) return true;
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' && PG_MESSAGES.some((m) => message.includes(m));
}

/** A short description of a connection failure for error messages. */
export function describeFailure(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error);
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' && message.length > 0 ? message : 'connection failed';
  return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
}

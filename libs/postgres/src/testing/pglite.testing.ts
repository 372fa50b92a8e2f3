import type { PGlite } from '@electric-sql/pglite';

/**
 * PGlite's constructor as loaded by `pglite.jest-environment.ts` (outside Jest's sandbox).
 * @throws Error when the spec file does not use that environment.
 */
export function loadPGlite(): typeof PGlite {
  const load = (globalThis as { __eventcorePGlite?: () => { PGlite: typeof PGlite } })
    .__eventcorePGlite;
  if (load === undefined) {
    throw new Error(
      'Add `@jest-environment @eventcore/postgres/testing/pglite-environment` to the spec file',
    );
  }
  return load().PGlite;
}

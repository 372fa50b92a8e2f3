import NodeEnvironment from 'jest-environment-node';

/**
 * Jest environment for PGlite tests. PGlite's Node build loads parts of itself with dynamic
 * `import()`, which Jest's module sandbox refuses without `--experimental-vm-modules`. An
 * environment is loaded outside that sandbox, so it can load PGlite with Node's own loader and
 * hand the constructor to the tests: `loadPGlite()` in `pglite.testing.ts`.
 *
 * Use it with a docblock at the top of a spec file:
 * `@jest-environment @eventcore/postgres/testing/pglite-environment` (in this repository, the path
 * `./libs/postgres/src/testing/pglite.jest-environment.ts`, which needs no build).
 */
export default class PGliteEnvironment extends NodeEnvironment {
  override async setup(): Promise<void> {
    await super.setup();
    // Node's own require, on purpose: this module runs outside Jest's sandbox.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.global.__eventcorePGlite = () => require('@electric-sql/pglite');
  }
}

/** Unit tests (`*.spec.ts`), PostgreSQL tests (`*.int-spec.ts`) and end-to-end tests (`test/*.e2e-spec.ts`). */
const swc = [
  '@swc/jest',
  {
    module: { type: 'commonjs' },
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      keepClassNames: true,
    },
  },
];

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/libs', '<rootDir>/apps', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts'],
  transform: { '^.+\\.(t|j|mj)s$': swc },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|uuid)/)'],
  // The @eventcore packages resolve through their workspace links to their TypeScript sources (the
  // "@eventcore/source" export condition), so tests never run against a stale or missing build.
  testEnvironmentOptions: { customExportConditions: ['@eventcore/source', 'node', 'node-addons'] },
  testTimeout: 60000,
  // One test file at a time: PostgreSQL's gap-safe log hides events committed after any transaction
  // still open anywhere on the server, so a test file holding a transaction open (on purpose, or
  // in a projection batch) would delay another file's reads. Serial runs take no longer here.
  maxWorkers: 1,
};

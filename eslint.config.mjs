// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      'node_modules/**',
      'coverage/**',
      'data/**',
      'docs/api/**',
      '.prof/**',
      '*.js',
      '*.mjs',
    ],
  },
  eslint.configs.recommended,
  {
    // Build and lint scripts run on Node.
    files: ['scripts/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      // Not consistent-type-imports: Nest's DI reads constructor parameter types emitted as
      // decorator metadata, which a type-only import would erase.
      'no-restricted-imports': ['error', { patterns: ['@nestjs/core/*', '@nestjs/common/*'] }],
    },
  },
  {
    files: ['libs/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['@nestjs/*', 'pg', '@eventcore/nestjs', '@eventcore/postgres'] },
      ],
    },
  },
);

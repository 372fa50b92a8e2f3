/**
 * PostgreSQL scenarios only: `npm run build && node dist/bench/pg-bench.js [--quick]`, the same as
 * `npm run bench -- --only pg` (see `main.ts`).
 */
process.argv.push('--only', 'pg');
void import('./main');

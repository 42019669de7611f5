import { createHash } from 'node:crypto';

/** Test-suite settings from the environment (the app itself reads it only in src/config.ts). */
export type TestBackend = 'pglite' | 'postgres';

export const BACKENDS: TestBackend[] = (process.env.CORDON_TEST_BACKENDS ?? 'pglite')
  .split(',')
  .map((b) => b.trim())
  .filter((b): b is TestBackend => {
    if (b === 'pglite' || b === 'postgres') return true;
    if (b !== '') throw new Error(`CORDON_TEST_BACKENDS: unknown backend "${b}" (pglite, postgres)`);
    return false;
  });

/** Server URL (no database) of the PostgreSQL the suite creates its databases on. */
export const PG_SERVER_URL = process.env.CORDON_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
/** The migrated template database, one per checkout, so that suites of two checkouts can run at once. */
export const PG_TEMPLATE =
  `cordon_test_template_` + `${createHash('sha256').update(process.cwd()).digest('hex').slice(0, 8)}`;

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the migrated PGlite data-dir dump made by global-setup.ts. */
    pgliteTemplate: string;
  }
}

import type { Kysely } from 'kysely';
import type { Database } from '../storage/schema.js';

/** The database or an open transaction: store functions run on whichever the service hands them. */
export type Executor = Kysely<Database>;

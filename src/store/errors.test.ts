import { expect, it } from 'vitest';
import { isDatabaseUnavailable } from './errors.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

it('tells a database that is away from one that refused a statement', () => {
  const away = [
    withCode('57P01', 'terminating connection due to administrator command'),
    withCode('57P02'),
    withCode('57P03', 'the database system is starting up'),
    withCode('53300', 'sorry, too many clients already'),
    withCode('08006'),
    withCode('08P01'),
    withCode('ECONNREFUSED'),
    withCode('ECONNRESET'),
    new Error('Connection terminated unexpectedly'),
    new Error('Connection terminated due to connection timeout'),
    new Error('Client has encountered a connection error and is not queryable'),
    new Error('timeout exceeded when trying to connect'),
    new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], ''),
  ];
  expect(away.filter((e) => !isDatabaseUnavailable(e)).map((e) => e.message)).toEqual([]);

  const refused = [
    withCode('23505', 'duplicate key value violates unique constraint'),
    withCode('22P02'),
    withCode('40001', 'could not serialize access'),
    withCode('42P01', 'relation does not exist'),
    new Error('something else'),
    new AggregateError([withCode('ECONNREFUSED'), new Error('other')], ''),
    new AggregateError([], ''),
    'Connection terminated unexpectedly',
    undefined,
    null,
  ];
  expect(refused.filter((e) => isDatabaseUnavailable(e))).toEqual([]);
});

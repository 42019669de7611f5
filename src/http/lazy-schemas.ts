/**
 * Fastify's own schema compilers (its Ajv validator and fast-json-stringify serializer, with the same
 * options), made lazy: a route's validator or serializer is compiled when a request first needs it, not
 * when the route is added. For the CLI's in-process instance (src/cli/local-api.ts), which answers one
 * command's few requests: compiling every route's schemas up front was a quarter of a one-shot command's
 * time. A listening server keeps compiling at start, so that a bad schema stops it before any request.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type Compiled = ((data: unknown) => unknown) & { errors?: unknown };

/** `factory`, whose compilers hand out a function that compiles on its first call, then calls it. */
function lazily<A extends unknown[], R>(factory: (...args: A) => (route: R) => Compiled) {
  return (...args: A) => {
    const compile = factory(...args);
    return (route: R): Compiled => {
      let compiled: Compiled | undefined;
      const run: Compiled = (data) => {
        compiled ??= compile(route);
        const result = compiled(data);
        // Fastify reads a failed validation's errors from the function it called.
        run.errors = compiled.errors;
        return result;
      };
      return run;
    };
  };
}

/** The `schemaController` option of an instance that compiles each schema at its first use. */
export function lazySchemaController(): NonNullable<FastifyServerOptions['schemaController']> {
  return {
    compilersFactory: {
      buildValidator: lazily(AjvCompiler() as unknown as (...args: unknown[]) => (route: unknown) => Compiled),
      buildSerializer: lazily(SerializerSelector() as unknown as (...args: unknown[]) => (route: unknown) => Compiled),
    },
  } as NonNullable<FastifyServerOptions['schemaController']>;
}

/**
 * Reading the console's posted forms (urlencoded, parsed by @fastify/formbody): a field is its string, or
 * "" when absent or not a string (a repeated field arrives as an array), cut to `max` characters.
 */
export function formText(form: unknown, name: string, max = Number.POSITIVE_INFINITY): string {
  const value = (form as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.slice(0, max) : '';
}

/**
 * `cordon secrets check STRING`: whether a string is a well-formed Cordon secret (src/secret-format.ts),
 * and of which kind, offline: no server, no database, no lookup. Well formed is not the same as issued:
 * that takes the server. The secret is never printed back, only its prefix and checksum.
 */
import type { Command } from 'commander';
import {
  EVENTS_TOKEN_PREFIX,
  maskSecret,
  parseEventsToken,
  parseSecret,
  SECRET_KINDS,
  SECRET_PROBLEMS,
} from '../secret-format.js';
import { EXIT, printJson, Reported, type CliIo } from './io.js';

/** Standard input up to its end, without the line break a shell or `echo` adds. */
async function readStdin(io: CliIo): Promise<string> {
  let text = '';
  for await (const chunk of io.stdin ?? process.stdin) text += String(chunk);
  return text.replace(/\r?\n$/, '');
}

/** An events token (a JWT with Cordon's fixed header start and a checksum): shown by its ends only. */
function checkEventsToken(io: CliIo, text: string, json: boolean | undefined): void {
  const parsed = parseEventsToken(text);
  const masked = `${text.slice(0, 12)}…${text.slice(-6)}`;
  if (json)
    printJson(
      io,
      parsed.ok ? { well_formed: true, kind: 'et', masked } : { well_formed: false, problem: parsed.problem },
    );
  else if (parsed.ok) io.stdout.write(`well-formed Cordon secret: events token (${masked})\n`);
  else io.stdout.write(`not a well-formed Cordon secret: ${EVENTS_TOKEN_PROBLEMS[parsed.problem]}\n`);
  if (!parsed.ok) throw new Reported(EXIT.FAILURE);
}

const EVENTS_TOKEN_PROBLEMS = {
  ...SECRET_PROBLEMS,
  bad_length: 'longer than any events token',
  bad_charset: 'not a JWT of three base64url segments with an ES256 signature',
};

export function secretsCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  const secrets = program.command('secrets').description("Cordon's secrets and their format");
  secrets
    .command('check <string>')
    .description(
      'Say whether STRING (or standard input, for -) is a well-formed Cordon secret and of which kind, ' +
        'checking its prefix, length and checksum here, without any lookup; exits 1 when it is not',
    )
    .option('--json', 'print {well_formed, kind?, masked?, problem?}')
    .action((given: string, opts: { json?: boolean }) =>
      run(async () => {
        const text = given === '-' ? await readStdin(io) : given;
        if (text.startsWith(EVENTS_TOKEN_PREFIX)) return checkEventsToken(io, text, opts.json);
        const parsed = parseSecret(text);
        if (opts.json)
          printJson(
            io,
            parsed.ok
              ? { well_formed: true, kind: parsed.kind, masked: maskSecret(text) }
              : { well_formed: false, problem: parsed.problem },
          );
        else if (parsed.ok)
          io.stdout.write(`well-formed Cordon secret: ${SECRET_KINDS[parsed.kind]} (${maskSecret(text)})\n`);
        else io.stdout.write(`not a well-formed Cordon secret: ${SECRET_PROBLEMS[parsed.problem]}\n`);
        if (!parsed.ok) throw new Reported(EXIT.FAILURE);
      }),
    );
}

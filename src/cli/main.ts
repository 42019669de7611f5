/**
 * The `cordon` command line. Every admin command has one body, calls to the HTTP API: a running server's
 * (after `cordon login`) when one holds the data, otherwise an instance in this process, as the local
 * operator; see remote.ts.
 */
import { Command, CommanderError } from 'commander';
import { renderConfigDocs } from '../config.js';
import { appsCommand } from './apps.js';
import { approvalsCommand } from './approvals.js';
import { auditCommand } from './audit.js';
import { automationCommand } from './automation.js';
import { containmentCommand } from './containment.js';
import { explainCommand } from './explain.js';
import { playbooksCommand } from './playbooks.js';
import { groupsCommand } from './directory.js';
import { initCommand } from './init.js';
import { keysCommand } from './keys.js';
import { loginCommand } from './login.js';
import { EXIT, reportError, type CliIo } from './io.js';
import { secretsCommand } from './secrets.js';
import { serveCommand } from './serve.js';
import { targetsCommand } from './targets.js';
import { webhooksCommand } from './webhooks.js';
import { usersCommand } from './users.js';

const HELP_FOOTER = `
Admin commands go through the API of the server that holds the data (sign in with \`cordon login\`), or,
when none does, through the same API in this process as the local operator (audited as operator:USER@HOST).
Configuration comes from the environment: run \`cordon config docs\` for every option.
Exit codes: 0 ok; 1 failure (a proof or an export that does not verify); 2 usage or
invalid input; 3 not found (a user, a plan, an audit entry, a new secret already read…); 4 refused by
a rule (a failed sign-in: wrong email, password or code; permission, last owner, externally managed, an
app constraint, duplicate, a containment lock, a plan no longer pending); 5 unavailable (no server
reachable, database down, data directory in use, or a server holds the data and you are not signed in to
it: the command to sign in is shown); 78 invalid configuration.`;

export async function main(
  argv: string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  let exitCode: number = EXIT.OK;
  const run = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (error) {
      exitCode = reportError(io, error, argv.includes('--json'));
    }
  };

  const program = new Command('cordon')
    .description('Cordon: identity containment for security operations')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError()
    .addHelpText('after', HELP_FOOTER);

  serveCommand(program, io, run);
  initCommand(program, io, run);
  usersCommand(program, io, run);
  groupsCommand(program, io, run);
  loginCommand(program, io, run);
  appsCommand(program, io, run);
  keysCommand(program, io, run);
  auditCommand(program, io, run);
  playbooksCommand(program, io, run);
  automationCommand(program, io, run);
  approvalsCommand(program, io, run);
  containmentCommand(program, io, run);
  explainCommand(program, io, run);
  targetsCommand(program, io, run);
  webhooksCommand(program, io, run);
  secretsCommand(program, io, run);
  program
    .command('config')
    .description('Configuration')
    .command('docs')
    .description('Print every configuration option as a Markdown table')
    .action(() => {
      io.stdout.write(renderConfigDocs() + '\n');
    });

  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version'
        ? EXIT.OK
        : EXIT.USAGE;
    }
    return reportError(io, error, false);
  }
  return exitCode;
}

/** The `scatter` command line: `serve`, and the subcommands that drive the admin REST API. */
import { Command, CommanderError, Option } from 'commander';
import { ApiError, ConnectionError } from './api-client.js';
import { registerAcl } from './commands/acl.js';
import { registerBackstore } from './commands/backstore.js';
import { MUTUAL_SECRET_ENV, SECRET_ENV, registerChap } from './commands/chap.js';
import { registerCluster } from './commands/cluster.js';
import { registerConfig } from './commands/config.js';
import { registerLs } from './commands/ls.js';
import { registerLun } from './commands/lun.js';
import { registerPortal } from './commands/portal.js';
import { registerServe } from './commands/serve.js';
import { registerSession } from './commands/session.js';
import { registerTarget } from './commands/target.js';
import { lastCtx } from './context.js';
import { EXIT, EXIT_HELP, UsageError, exitForStatus } from './errors.js';
import { formatProblem } from './format.js';

const CONNECTION_HELP = `Connection (no flag needed on the target's host):
  URL:   --url, else $SCATTER_URL, else $SCATTER_ADMIN, else admin.host/port of the config file,
         else http://127.0.0.1:9470
  token: --token, else $SCATTER_TOKEN, else --token-file / $SCATTER_TOKEN_FILE, else the config
         file's admin.tokenFile, else <stateDir>/admin-token, else ./data/state/admin-token
  config file: -c/--config, else $SCATTER_CONFIG, else config/scatter.yaml (relative paths in it
         resolve against the current directory, ./data/... under $SCATTER_DATA_DIR, as for \`scatter serve\`)
CHAP secrets: --secret-file FILE or $${SECRET_ENV} ($${MUTUAL_SECRET_ENV} for mutual CHAP).
Sizes: 512M, 10G, 1GiB (powers of 1024). Output: tables; --json or -o yaml for scripts.`;

export function buildProgram(done: (code: number) => void): Command {
  const program = new Command('scatter')
    .description('Scatter iSCSI target: run it (serve) and administer it through its REST API')
    .option('--url <url>', 'admin API base URL')
    .option('--token <token>', 'admin bearer token (prefer --token-file or $SCATTER_TOKEN: flags show in ps)')
    .option('--token-file <file>', 'read the token from this file')
    .option('-c, --config <file>', 'Scatter config file (serve runs it; the others read admin.* from it)')
    .option('--json', 'print JSON')
    .addOption(new Option('-o, --output <format>', 'table, json or yaml').choices(['table', 'json', 'yaml']))
    .option('--timeout <seconds>', 'give up on the API after this long (default 30)')
    .exitOverride()
    .showHelpAfterError()
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', `\n${CONNECTION_HELP}\n\n${EXIT_HELP}\n`);
  registerServe(program, done);
  registerLs(program);
  registerTarget(program);
  registerLun(program);
  registerBackstore(program);
  registerAcl(program);
  registerChap(program);
  registerPortal(program);
  registerSession(program);
  registerConfig(program);
  registerCluster(program);
  return program;
}

/** Runs one command line; the exit status (see EXIT_HELP). Messages go to stderr, results to stdout. */
export async function run(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    return reportError(err);
  }
}

function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage; // commander printed it
  if (err instanceof ApiError) {
    process.stderr.write(formatProblem(err.status, err.problem));
    if (err.status === 401 && lastCtx) {
      process.stderr.write(
        lastCtx.hasToken
          ? `scatter: the token from ${lastCtx.tokenSource} was refused\n`
          : `scatter: no admin token found (looked for ${lastCtx.tokenSource}); give --token-file FILE or set SCATTER_TOKEN\n`,
      );
    }
    return exitForStatus(err.status);
  }
  if (err instanceof ConnectionError) {
    process.stderr.write(`scatter: ${err.message}\n`);
    return EXIT.failure;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`scatter: ${err.message}\n`);
    return EXIT.usage;
  }
  throw err;
}

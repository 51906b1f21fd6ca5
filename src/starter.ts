/**
 * The `flywheel` CLI entry: parses, calls one library function per command, prints `error.message`
 * (the stack only with --verbose) and returns the exit code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { registerLocalCommands } from './local-server/cli.js';
import { CliError, EXIT_CODES, explainError } from './cli/common.js';
import { registerFleetCommand } from './cli/fleet.js';
import { registerGateCommands } from './cli/gates.js';
import { registerHistoryCommands } from './cli/history.js';
import { registerObserveCommands } from './cli/observe.js';
import { registerRunCommand } from './cli/run.js';
import { registerScheduleCommands } from './cli/schedule.js';
import { registerWorkerCommand } from './cli/worker.js';
import { packageRoot } from './paths.js';

/** The release, as package.json names it (one place: history fixtures are named after it too). */
const VERSION = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

export function buildProgram(): Command {
  const program = new Command('flywheel')
    .description(
      'bt-flywheel: the Braintrust agent-improvement flywheel as a durable Temporal workflow. With no credentials it ' +
        'runs on the embedded defaults: a Temporal dev server and a local Braintrust-compatible server, both started ' +
        'for you and kept under .flywheel/.',
    )
    .version(VERSION)
    .option('--json', 'machine-readable output (one JSON document)')
    .option('--verbose', 'print stack traces and connection details on errors')
    .option('--config <path>', 'config file (default ./flywheel.config.json; env FLYWHEEL_CONFIG)')
    .option('--home <dir>', 'state directory for the embedded defaults (default ./.flywheel; env FLYWHEEL_HOME)')
    .option('--address <host:port>', 'Temporal address (env TEMPORAL_ADDRESS); omit for the embedded dev server')
    .option('--namespace <ns>', 'Temporal namespace (env TEMPORAL_NAMESPACE)')
    .addOption(new Option('--api-key <key>', 'Temporal Cloud API key (env TEMPORAL_API_KEY); never printed').hideHelp(false))
    .option('--profile <name>', 'temporal.toml profile (env TEMPORAL_PROFILE)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerRunCommand(program);
  registerObserveCommands(program);
  registerGateCommands(program);
  registerHistoryCommands(program);
  registerScheduleCommands(program);
  registerFleetCommand(program);
  registerWorkerCommand(program);
  registerLocalCommands(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander; usage problems were already printed by it.
      return err.exitCode === 0 ? 0 : EXIT_CODES.usage;
    }
    const e = explainError(err);
    process.stderr.write(`flywheel: ${e.message}\n`);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    return e instanceof CliError ? e.exitCode : EXIT_CODES.error;
  }
}

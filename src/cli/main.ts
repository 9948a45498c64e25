import { Command, CommanderError } from 'commander';
import { isZiggieError } from '../core/errors.ts';
import { ZIGGIE_VERSION } from '../version.ts';
import { registerMcp } from './commands/mcp.ts';
import { registerServers } from './commands/servers.ts';
import { registerStart } from './commands/start.ts';
import { registerTools } from './commands/tools.ts';

/** Builds the `ziggie` command tree. */
export function buildProgram(): Command {
  const program = new Command('ziggie')
    .description(
      'Ziggie: one MCP endpoint in front of all your MCP servers, and a command center for AI agents',
    )
    .version(ZIGGIE_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerStart(program);
  registerMcp(program);
  registerServers(program);
  registerTools(program);
  return program;
}

/** Runs the CLI; failures print one line (`ziggie: CODE: message`) and exit non-zero. */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed help or the usage error.
      process.exitCode = error.exitCode;
      return;
    }
    const line = isZiggieError(error)
      ? `${error.code}: ${error.message.split('\n').join('\n  ')}`
      : error instanceof Error
        ? error.message
        : String(error);
    process.stderr.write(`ziggie: ${line}\n`);
    process.exitCode = 1;
  }
}

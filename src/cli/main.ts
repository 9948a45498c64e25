import { Command, CommanderError } from 'commander';
import { isZiggieError } from '../core/errors.ts';
import { ZIGGIE_VERSION } from '../version.ts';
import { registerAgents } from './commands/agents.ts';
import { registerAudit } from './commands/audit.ts';
import { registerKeys } from './commands/keys.ts';
import { registerMcp } from './commands/mcp.ts';
import { registerServers } from './commands/servers.ts';
import { registerStart } from './commands/start.ts';
import { registerTasks } from './commands/tasks.ts';
import { registerTools } from './commands/tools.ts';
import { registerUsage } from './commands/usage.ts';
import { registerUsers } from './commands/users.ts';
import { registerWorkspaces } from './commands/workspaces.ts';

/**
 * Builds the `ziggie` command tree. Commander prints help and version itself; its errors are
 * thrown (not printed) so that `main` reports them in the one-line `ziggie: CODE: message` form.
 */
export function buildProgram(): Command {
  const program = new Command('ziggie')
    .description(
      'Ziggie: one MCP endpoint in front of all your MCP servers, and a command center for AI agents',
    )
    .version(ZIGGIE_VERSION)
    .configureOutput({
      // Help asked for by a bare `ziggie` or `ziggie servers` goes to stdout like `--help`.
      writeErr: (text) => process.stdout.write(text),
      outputError: () => {},
    })
    .exitOverride();
  registerStart(program);
  registerMcp(program);
  registerServers(program);
  registerTools(program);
  registerUsers(program);
  registerKeys(program);
  registerAudit(program);
  registerWorkspaces(program);
  registerAgents(program);
  registerTasks(program);
  registerUsage(program);
  return program;
}

/** The one line printed for a failure, without the `ziggie: ` prefix. */
export function failureLine(error: unknown, argv: readonly string[], program?: Command): string {
  if (error instanceof CommanderError) {
    const message = error.message.replace(/^error: /, '');
    return `CLI_USAGE: ${oneLine(message, ' ')} (see \`${commandPath(argv, program)} --help\`)`;
  }
  if (isZiggieError(error)) return `${error.code}: ${oneLine(error.message)}`;
  return `INTERNAL: ${oneLine(error instanceof Error ? error.message : String(error))}`;
}

function oneLine(text: string, separator = '; '): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(separator);
}

/** `ziggie servers add`: the subcommands named at the start of argv. */
function commandPath(argv: readonly string[], program: Command | undefined): string {
  const names = ['ziggie'];
  let command = program;
  for (const arg of argv) {
    const next = command?.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!next) break;
    names.push(next.name());
    command = next;
  }
  return names.join(' ');
}

/** Runs the CLI; failures print one line (`ziggie: CODE: message`) on stderr and exit non-zero. */
export async function main(argv: readonly string[]): Promise<void> {
  // `ziggie tools list | head` closes stdout early: that is not a failure.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version were printed already; they (and a bare `ziggie`, which shows help) succeed.
      if (error.code.startsWith('commander.help') || error.code === 'commander.version') {
        process.exitCode = 0;
        return;
      }
    }
    process.stderr.write(`ziggie: ${failureLine(error, argv, program)}\n`);
    process.exitCode = 1;
  }
}

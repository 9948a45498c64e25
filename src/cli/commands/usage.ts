import { type Command, Option } from 'commander';
import type { UsageGroup } from '../../store/types.ts';
import { printJson, printTable } from '../output.ts';
import { clientFor, type RemoteFlags, remoteOptions } from '../remote.ts';

interface UsageFlags extends RemoteFlags {
  by: 'agent' | 'team' | 'workspace';
  from?: string;
  to?: string;
  workspace?: string;
}

/** `1.25` → `1.25`, `0.00321` → `0.0032`: costs to four decimals, without trailing zeros. */
function money(value: number): string {
  return String(Number(value.toFixed(4)));
}

/** `850ms`, `12.5s`, `3m 20s`, `2h 5m`. */
function duration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number(s.toFixed(1))}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
}

/** `ziggie usage`: tokens, cost and duration of tasks per agent, team or workspace. */
export function registerUsage(program: Command): void {
  remoteOptions(
    program
      .command('usage')
      .description('tokens, cost and duration of tasks, rolled up per agent, team or workspace')
      .addOption(
        new Option('--by <group>', 'what to roll up by')
          .choices(['agent', 'team', 'workspace'])
          .default('agent'),
      )
      .option('--from <time>', 'tasks created at or after (ISO 8601 time or date)')
      .option('--to <time>', 'tasks created before (ISO 8601 time or date)')
      .option('--workspace <name>', 'tasks of this workspace only'),
  ).action(async (flags: UsageFlags) => {
    const query = new URLSearchParams({ groupBy: flags.by });
    if (flags.from) query.set('from', flags.from);
    if (flags.to) query.set('to', flags.to);
    if (flags.workspace) query.set('workspace', flags.workspace);
    const report = await clientFor(flags).get<{ groups: UsageGroup[] }>(`/api/usage?${query}`);
    if (flags.json) return printJson(report);
    printTable(
      report.groups.map((g) => ({
        [flags.by]: g.key ?? `(no ${flags.by})`,
        tasks: g.tasks,
        completed: g.completed,
        failed: g.failed,
        input: g.inputTokens,
        output: g.outputTokens,
        cost: money(g.cost),
        time: duration(g.durationMs),
        avg: duration(g.avgDurationMs),
      })),
      [flags.by, 'tasks', 'completed', 'failed', 'input', 'output', 'cost', 'time', 'avg'],
      'no tasks',
    );
    if (report.groups.length === 0) return;
    const sum = (pick: (g: UsageGroup) => number) => report.groups.reduce((total, g) => total + pick(g), 0);
    process.stdout.write(
      `total: ${sum((g) => g.tasks)} tasks, ${sum((g) => g.inputTokens + g.outputTokens)} tokens, cost ${money(sum((g) => g.cost))}\n`,
    );
  });
}

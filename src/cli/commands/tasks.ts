import type { Command } from 'commander';
import { ZiggieError } from '../../core/errors.ts';
import { printJson, printTable } from '../output.ts';
import { clientFor, type RemoteFlags, remoteOptions } from '../remote.ts';
import { registerTasksWatch } from './tasks-watch.ts';

interface TaskRow {
  id: string;
  taskType: string;
  status: string;
  priority: string;
  workspace: string | null;
  creator: { type: string; id: string };
  assignee: string | null;
  parentId: string | null;
  attempts: number;
  maxAttempts: number;
  rejections: number;
  reviewFeedback: string | null;
  why: string | null;
  input: unknown;
  output: unknown;
  error: { code?: string; message: string } | null;
  createdAt: string;
  transitions?: Array<{
    from: string | null;
    to: string;
    actor: { type: string; id: string };
    reason: string | null;
    at: string;
  }>;
}

interface SubmitFlags extends RemoteFlags {
  input?: string;
  agent?: string;
  skill: string[];
  tier?: string;
  workspace?: string;
  priority?: string;
  deadline?: string;
  idempotencyKey?: string;
  parent?: string;
  maxAttempts?: string;
  complexity?: string;
  milestone?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseJson(flag: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ZiggieError('CLI_USAGE', `${flag}: not valid JSON (${(error as Error).message})`);
  }
}

function printTask(task: TaskRow): void {
  const lines: Array<[string, unknown]> = [
    ['id', task.id],
    ['type', task.taskType],
    ['status', task.status],
    ['priority', task.priority],
    ['workspace', task.workspace ?? '-'],
    ['creator', `${task.creator.type}:${task.creator.id}`],
    ['assignee', task.assignee ?? '-'],
    ['why', task.why ?? '-'],
    ['parent', task.parentId ?? '-'],
    ['attempts', `${task.attempts}/${task.maxAttempts}`],
    ['rejections', task.rejections],
    ['feedback', task.reviewFeedback ?? '-'],
    ['input', JSON.stringify(task.input)],
    ['output', JSON.stringify(task.output)],
    ['error', task.error ? `${task.error.code ? `${task.error.code}: ` : ''}${task.error.message}` : '-'],
  ];
  for (const [key, value] of lines) process.stdout.write(`${`${key}:`.padEnd(12)}${String(value)}\n`);
  if (task.transitions) {
    process.stdout.write('transitions:\n');
    for (const t of task.transitions) {
      const reason = t.reason ? `  (${t.reason})` : '';
      process.stdout.write(
        `  ${t.at}  ${t.from ?? '-'} → ${t.to}  by ${t.actor.type}:${t.actor.id}${reason}\n`,
      );
    }
  }
}

/** `ziggie tasks submit|list|show|cancel|approve|reject|watch`. */
export function registerTasks(program: Command): void {
  const tasks = program
    .command('tasks')
    .description('orchestrator tasks: submit, list, show, cancel, review');

  remoteOptions(
    tasks
      .command('submit <taskType>')
      .description('submit a task to a named agent (--agent), by skills (--skill), or leave it PENDING')
      .option('--input <json>', 'the task input, as JSON')
      .option('--agent <id>', 'the agent to assign it to')
      .option('--skill <skill>', 'a required skill (repeat); the best available agent is chosen', collect, [])
      .option('--tier <tier>', 'with --skill: only agents of this tier')
      .option('--workspace <name>', 'its workspace')
      .option('--priority <priority>', 'LOW, MEDIUM, HIGH or CRITICAL')
      .option('--deadline <time>', 'ISO 8601 time')
      .option('--idempotency-key <key>', 'submitting again with the same key answers the same task')
      .option('--parent <id>', 'make it a subtask of this task')
      .option('--max-attempts <n>', 'attempts before FAILED is final (default 3)')
      .option('--complexity <level>', 'normal or high (high: Elite agents are considered in a P0 workspace)')
      .option('--milestone', 'a milestone (Elite agents are considered in a P0 workspace)'),
  ).action(async (taskType: string, flags: SubmitFlags) => {
    const body: Record<string, unknown> = { taskType };
    if (flags.input !== undefined) body.input = parseJson('--input', flags.input);
    if (flags.agent !== undefined) body.agentId = flags.agent;
    if (flags.skill.length > 0) body.skills = flags.skill;
    if (flags.tier !== undefined) body.tier = flags.tier;
    if (flags.workspace !== undefined) body.workspace = flags.workspace;
    if (flags.priority !== undefined) body.priority = flags.priority;
    if (flags.deadline !== undefined) body.deadline = flags.deadline;
    if (flags.idempotencyKey !== undefined) body.idempotencyKey = flags.idempotencyKey;
    if (flags.parent !== undefined) body.parentId = flags.parent;
    if (flags.complexity !== undefined) body.complexity = flags.complexity;
    if (flags.milestone) body.milestone = true;
    if (flags.maxAttempts !== undefined) {
      if (!/^\d+$/.test(flags.maxAttempts)) {
        throw new ZiggieError(
          'CLI_USAGE',
          `--max-attempts: expected a whole number (got "${flags.maxAttempts}")`,
        );
      }
      body.maxAttempts = Number(flags.maxAttempts);
    }
    const task = await clientFor(flags).post<TaskRow>('/api/tasks', body);
    if (flags.json) return printJson(task);
    process.stdout.write(
      `${task.id} ${task.status}${task.assignee ? ` → ${task.assignee}` : ''}${task.why ? ` (${task.why})` : ''}\n`,
    );
  });

  remoteOptions(
    tasks
      .command('list')
      .description('tasks, newest first')
      .option(
        '--status <status>',
        'PENDING, ASSIGNED, IN_PROGRESS, REVIEW_REQUESTED, COMPLETED, FAILED, CANCELLED, …',
      )
      .option('--workspace <name>', 'tasks of this workspace')
      .option('--assignee <id>', 'tasks assigned to this agent')
      .option('--parent <id>', 'subtasks of this task')
      .option('--approvals', 'the review inbox (tasks waiting for approval)')
      .option('--limit <n>', 'tasks per page (1-1000)', '50')
      .option('--cursor <cursor>', 'the page after the one that printed this cursor'),
  ).action(
    async (
      flags: RemoteFlags & {
        status?: string;
        workspace?: string;
        assignee?: string;
        parent?: string;
        approvals?: boolean;
        limit: string;
        cursor?: string;
      },
    ) => {
      const query = new URLSearchParams({ limit: flags.limit });
      if (flags.workspace) query.set('workspace', flags.workspace);
      if (!flags.approvals) {
        if (flags.status) query.set('status', flags.status);
        if (flags.assignee) query.set('assignee', flags.assignee);
        if (flags.parent) query.set('parentId', flags.parent);
      }
      if (flags.cursor) query.set('cursor', flags.cursor);
      const page = await clientFor(flags).get<{ items: TaskRow[]; nextCursor: string | null }>(
        `${flags.approvals ? '/api/approvals' : '/api/tasks'}?${query}`,
      );
      if (flags.json) return printJson(page);
      printTable(
        page.items.map((t) => ({ ...t, type: t.taskType, attempts: `${t.attempts}/${t.maxAttempts}` })),
        ['id', 'type', 'status', 'priority', 'assignee', 'workspace', 'attempts'],
        'no tasks',
      );
      if (page.nextCursor) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
    },
  );

  remoteOptions(tasks.command('show <id>').description('one task with its transitions')).action(
    async (id: string, flags: RemoteFlags) => {
      const task = await clientFor(flags).get<TaskRow>(`/api/tasks/${encodeURIComponent(id)}`);
      if (flags.json) return printJson(task);
      printTask(task);
    },
  );

  const change = (action: string, description: string) =>
    remoteOptions(tasks.command(`${action} <id>`).description(description));

  change('cancel', 'cancel a task and its open subtasks')
    .option('--reason <text>', 'why (kept in its transitions)')
    .action(async (id: string, flags: RemoteFlags & { reason?: string }) => {
      const task = await clientFor(flags).post<TaskRow>(`/api/tasks/${encodeURIComponent(id)}/cancel`, {
        ...(flags.reason ? { reason: flags.reason } : {}),
      });
      if (flags.json) return printJson(task);
      process.stdout.write(`${task.id} ${task.status}\n`);
    });

  change('approve', 'approve the output of a task under review (it completes)')
    .option('--feedback <text>', 'a note for the agent')
    .action(async (id: string, flags: RemoteFlags & { feedback?: string }) => {
      const task = await clientFor(flags).post<TaskRow>(`/api/tasks/${encodeURIComponent(id)}/approve`, {
        ...(flags.feedback ? { feedback: flags.feedback } : {}),
      });
      if (flags.json) return printJson(task);
      process.stdout.write(`${task.id} ${task.status}\n`);
    });

  change('reject', 'reject the output of a task under review (it goes back to its agent)')
    .option('--feedback <text>', 'what to change (required)')
    .action(async (id: string, flags: RemoteFlags & { feedback?: string }) => {
      if (!flags.feedback) throw new ZiggieError('CLI_USAGE', 'tasks reject: --feedback <text> is required');
      const task = await clientFor(flags).post<TaskRow>(`/api/tasks/${encodeURIComponent(id)}/reject`, {
        feedback: flags.feedback,
      });
      if (flags.json) return printJson(task);
      process.stdout.write(`${task.id} ${task.status} → ${task.assignee} (rejections: ${task.rejections})\n`);
    });

  registerTasksWatch(tasks);
}

import { createWriteStream } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ZiggieError } from '../../core/errors.ts';
import { printJson, printTable } from '../output.ts';
import { clientFor, type RemoteFlags, remoteOptions } from '../remote.ts';

interface AuditRow {
  id: number;
  time: string;
  actor: { type: string; id: string };
  action: string;
  entityType: string;
  entityId: string | null;
  outcome: string;
  durationMs: number | null;
  ip: string | null;
}

interface FilterFlags extends RemoteFlags {
  actor?: string;
  action: string[];
  entityType?: string;
  entityId?: string;
  outcome?: string;
  since?: string;
  until?: string;
}

interface VerifyAnswer {
  ok: boolean;
  checked: number;
  head: { lastId: number; lastHash: string };
  anchor: { firstId: number; prevHash: string };
  broken?: { id: number; reason: string; message: string };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The filter options `audit list` and `audit export` share. */
function filterOptions(command: Command): Command {
  return command
    .option('--actor <type:id>', 'who acted, e.g. user:usr_123, agent:ziggie.qa, system:ziggie')
    .option('--action <ACTION>', 'an action (repeat, or comma-separate, for any of several)', collect, [])
    .option('--entity-type <type>', 'workspace, agent, tool, server, …')
    .option('--entity-id <id>', 'the entity’s id')
    .option('--outcome <outcome>', 'success, failure or denied')
    .option('--since <time>', 'at or after (ISO 8601 or epoch ms)')
    .option('--until <time>', 'before (ISO 8601 or epoch ms)');
}

function filterQuery(flags: FilterFlags): URLSearchParams {
  const query = new URLSearchParams();
  if (flags.actor) query.set('actor', flags.actor);
  for (const action of flags.action) query.append('action', action);
  if (flags.entityType) query.set('entityType', flags.entityType);
  if (flags.entityId) query.set('entityId', flags.entityId);
  if (flags.outcome) query.set('outcome', flags.outcome);
  if (flags.since) query.set('since', flags.since);
  if (flags.until) query.set('until', flags.until);
  return query;
}

/** `ziggie audit list|export|verify`: the audit log of a running Ziggie. */
export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('query, export and verify the audit log');

  remoteOptions(
    filterOptions(audit.command('list').description('audit entries, newest first'))
      .option('--limit <n>', 'entries per page (1-1000)', '50')
      .option('--cursor <cursor>', 'the page after the one that printed this cursor'),
  ).action(async (flags: FilterFlags & { limit: string; cursor?: string }) => {
    const query = filterQuery(flags);
    query.set('limit', flags.limit);
    if (flags.cursor) query.set('cursor', flags.cursor);
    const page = await clientFor(flags).get<{ items: AuditRow[]; nextCursor: string | null }>(
      `/api/audit?${query}`,
    );
    if (flags.json) return printJson(page);
    printTable(
      page.items.map((e) => ({
        id: e.id,
        time: e.time,
        actor: `${e.actor.type}:${e.actor.id}`,
        action: e.action,
        entity: e.entityId === null ? e.entityType : `${e.entityType}:${e.entityId}`,
        outcome: e.outcome,
        ms: e.durationMs,
        ip: e.ip,
      })),
      ['id', 'time', 'actor', 'action', 'entity', 'outcome', 'ms', 'ip'],
      'no audit entries',
    );
    if (page.nextCursor) process.stdout.write(`more: --cursor ${page.nextCursor}\n`);
  });

  remoteOptions(
    filterOptions(
      audit.command('export').description('export matching entries, oldest first, streamed (CSV or JSON)'),
    )
      .option('--format <format>', 'csv or json', 'json')
      .option('-o, --output <file>', 'write to this file instead of stdout'),
  ).action(async (flags: FilterFlags & { format: string; output?: string }) => {
    if (flags.format !== 'csv' && flags.format !== 'json') {
      throw new ZiggieError('CLI_USAGE', `--format: expected csv or json (got "${flags.format}")`);
    }
    const query = filterQuery(flags);
    query.set('format', flags.format);
    const body = await clientFor(flags).download(`/api/audit/export?${query}`);
    // stdout stays open after the copy: only a file is closed at the end.
    const target = flags.output
      ? createWriteStream(flags.output)
      : new Writable({
          write: (chunk, _encoding, done) => {
            if (process.stdout.write(chunk)) done();
            else process.stdout.once('drain', () => done());
          },
        });
    await pipeline(Readable.fromWeb(body as Parameters<typeof Readable.fromWeb>[0]), target);
  });

  remoteOptions(
    audit
      .command('verify')
      .description('check the hash chain; exits 1 naming the first edited, deleted or reordered entry'),
  ).action(async (flags: RemoteFlags) => {
    const result = await clientFor(flags).get<VerifyAnswer>('/api/audit/verify');
    if (flags.json) printJson(result);
    if (result.broken) throw new ZiggieError('AUDIT_CHAIN_BROKEN', result.broken.message);
    if (flags.json) return;
    const range =
      result.checked === 0 ? 'no entries' : `entries ${result.anchor.firstId}-${result.head.lastId}`;
    process.stdout.write(
      `audit log intact: ${result.checked} entries checked (${range}); head ${result.head.lastHash}\n`,
    );
  });
}

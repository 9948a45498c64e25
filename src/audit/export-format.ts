import type { AuditEntry } from '../core/audit.ts';

/** Formats of `GET /api/audit/export`. */
export const EXPORT_FORMATS = ['csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** An entry as the REST API and the JSON export show it. */
export interface AuditEntryJson {
  id: number;
  time: string;
  actor: { type: string; id: string };
  action: string;
  entityType: string;
  entityId: string | null;
  metadata: unknown;
  ip: string | null;
  durationMs: number | null;
  outcome: string;
  prevHash: string;
  hash: string;
}

export function auditEntryJson(entry: AuditEntry): AuditEntryJson {
  return {
    id: entry.id,
    time: entry.time.toISOString(),
    actor: entry.actor,
    action: entry.action,
    entityType: entry.entityType,
    entityId: entry.entityId,
    metadata: parseMetadata(entry.metadataJson),
    ip: entry.ip,
    durationMs: entry.durationMs,
    outcome: entry.outcome,
    prevHash: entry.prevHash,
    hash: entry.hash,
  };
}

function parseMetadata(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Only a hand-edited row has bad JSON; show it as it is (verification names the row).
    return text;
  }
}

/** Pieces of an export, written in order: start, the pages of rows, end. */
export interface ExportFormatter {
  readonly contentType: string;
  start(): string;
  rows(page: readonly AuditEntry[], first: boolean): string;
  end(): string;
}

/** CSV columns, in order; `metadata` is the stored JSON text, so the hash can be recomputed. */
export const CSV_COLUMNS = [
  'id',
  'time',
  'actorType',
  'actorId',
  'action',
  'entityType',
  'entityId',
  'outcome',
  'durationMs',
  'ip',
  'metadata',
  'prevHash',
  'hash',
] as const;

const csv: ExportFormatter = {
  contentType: 'text/csv; charset=utf-8',
  start: () => `${CSV_COLUMNS.join(',')}\r\n`,
  rows: (page) =>
    page
      .map((e) =>
        [
          e.id,
          e.time.toISOString(),
          e.actor.type,
          e.actor.id,
          e.action,
          e.entityType,
          e.entityId,
          e.outcome,
          e.durationMs,
          e.ip,
          e.metadataJson,
          e.prevHash,
          e.hash,
        ]
          .map(csvCell)
          .join(','),
      )
      .map((line) => `${line}\r\n`)
      .join(''),
  end: () => '',
};

const json: ExportFormatter = {
  contentType: 'application/json; charset=utf-8',
  start: () => '[',
  rows: (page, first) =>
    page.map((e, i) => `${first && i === 0 ? '\n' : ',\n'}${JSON.stringify(auditEntryJson(e))}`).join(''),
  end: () => '\n]\n',
};

export function exportFormatter(format: ExportFormat): ExportFormatter {
  return format === 'csv' ? csv : json;
}

/** RFC 4180: quote a cell holding a comma, quote or line break; double the quotes inside. */
function csvCell(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

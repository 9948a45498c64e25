import { type UpstreamSpec, UpstreamSpecSchema } from '../core/upstream-spec.ts';
import type { StoreDb, StoreLogger } from './schema.ts';
import type { ServerRepo } from './types.ts';

/**
 * Upstream servers added at run time. Specs are stored as JSON and validated again when read: a
 * row written by an older or newer Ziggie that no longer fits the schema is skipped with a warning,
 * so one bad row cannot stop the gateway from starting.
 */
export class SqlServerRepo implements ServerRepo {
  readonly #db: StoreDb;
  readonly #logger: StoreLogger;

  constructor(db: StoreDb, logger: StoreLogger) {
    this.#db = db;
    this.#logger = logger;
  }

  async list(): Promise<UpstreamSpec[]> {
    const rows = await this.#db
      .selectFrom('upstream_servers')
      .select(['name', 'spec_json'])
      .orderBy('name')
      .execute();
    const specs: UpstreamSpec[] = [];
    for (const row of rows) {
      const spec = this.#parse(row.name, row.spec_json);
      if (spec) specs.push(spec);
    }
    return specs;
  }

  async upsert(spec: UpstreamSpec): Promise<void> {
    const now = Date.now();
    const specJson = JSON.stringify(spec);
    await this.#db
      .insertInto('upstream_servers')
      .values({ name: spec.name, spec_json: specJson, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column('name').doUpdateSet({ spec_json: specJson, updated_at: now }))
      .execute();
  }

  async remove(name: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('upstream_servers').where('name', '=', name).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  #parse(name: string, json: string): UpstreamSpec | undefined {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (error) {
      this.#logger.warn(
        { server: name, reason: (error as Error).message },
        'skipping a stored server: bad JSON',
      );
      return undefined;
    }
    const parsed = UpstreamSpecSchema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issues = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    );
    this.#logger.warn({ server: name, issues }, 'skipping a stored server that no longer validates');
    return undefined;
  }
}

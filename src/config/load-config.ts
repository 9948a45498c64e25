import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ZiggieError } from '../core/errors.ts';
import type { UpstreamSpec } from '../core/upstream-spec.ts';
import { interpolateTree } from './interpolate.ts';
import { type ConfigIssue, describeIssues, formatIssues, keyPath, show } from './issues.ts';
import { resolveMcpServers } from './mcp-servers.ts';
import { type ConfigFile, ConfigFileSchema } from './schema.ts';

/** The validated, defaulted, frozen configuration every part of Ziggie is built from. */
export type ResolvedConfig = Readonly<
  Omit<ConfigFile, 'mcpServers'> & {
    mcpServers: Readonly<Record<string, UpstreamSpec>>;
    /** The ziggie.yaml it came from, if any. */
    configPath: string | undefined;
  }
>;

export interface LoadConfigOptions {
  /** ziggie.yaml; without it, defaults only. */
  path?: string;
  /** A Claude Desktop style JSON file whose `mcpServers` are added (other keys ignored). */
  mcpConfigPath?: string;
  env: NodeJS.ProcessEnv;
  /** Command-line flags, which win over the file. */
  overrides?: { port?: number; host?: string; dataDir?: string };
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ZiggieError('CONFIG_NOT_FOUND', `${what} not found: ${path}`, { path });
    throw new ZiggieError('CONFIG_INVALID', `${what} cannot be read: ${path} (${code})`, { path });
  }
}

function invalid(file: string, issues: ConfigIssue[]): ZiggieError {
  return new ZiggieError('CONFIG_INVALID', `${file}: ${formatIssues(issues)}`, { file, issues });
}

async function readYaml(path: string): Promise<unknown> {
  const text = await readText(path, 'config file');
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0]?.replace(/:$/, '');
    throw invalid(path, [{ path: '(file)', message: `not valid YAML: ${reason}` }]);
  }
}

/** The server block of an MCP client's JSON file: `mcpServers` (Claude, Cursor) or `servers` (VS Code). */
async function readMcpConfig(path: string): Promise<Record<string, unknown>> {
  const text = await readText(path, 'MCP client config');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalid(path, [{ path: '(file)', message: `not valid JSON: ${(error as Error).message}` }]);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalid(path, [{ path: '(root)', message: `expected a JSON object (got ${show(parsed)})` }]);
  }
  const file = parsed as Record<string, unknown>;
  const key = 'mcpServers' in file || !('servers' in file) ? 'mcpServers' : 'servers';
  const block = file[key];
  if (block === undefined) {
    const keys = Object.keys(file);
    const has = keys.length ? `the file has ${keys.join(', ')}` : 'the file is empty';
    throw invalid(path, [{ path: key, message: `required, a mapping of servers (${has})` }]);
  }
  if (block === null || typeof block !== 'object' || Array.isArray(block)) {
    throw invalid(path, [{ path: key, message: `expected a mapping of servers (got ${show(block)})` }]);
  }
  return block as Record<string, unknown>;
}

/**
 * Loads ziggie.yaml (and optionally a client's JSON config), interpolates `${VAR:-default}`,
 * validates everything and returns one frozen object. Every problem is reported at once, each
 * with its key path, the value given and what is allowed: `CONFIG_INVALID` with the message
 * `<file>: <path>: <problem> (got <value>); <path>: …` and `details.issues`.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<ResolvedConfig> {
  const file = options.path ?? '(defaults)';
  const text = options.path ? await readYaml(options.path) : {};
  if (text === null || typeof text !== 'object' || Array.isArray(text)) {
    throw invalid(file, [
      { path: '(root)', message: `expected a mapping of top-level keys (got ${show(text)})` },
    ]);
  }
  const { value: raw, issues: unset } = interpolateTree(text, options.env);
  if (unset.length > 0) throw invalid(file, unset);
  const parsed = ConfigFileSchema.safeParse(raw);
  const block = (raw as { mcpServers?: unknown }).mcpServers;
  const { specs, issues } = resolveMcpServers(
    block !== null && typeof block === 'object' && !Array.isArray(block)
      ? (block as Record<string, unknown>)
      : {},
  );
  if (!parsed.success) {
    throw invalid(file, [...describeIssues(parsed.error, raw, '', ConfigFileSchema), ...issues]);
  }
  if (issues.length > 0) throw invalid(file, issues);
  const config = parsed.data;
  if (options.mcpConfigPath) {
    const extraFile = options.mcpConfigPath;
    const interpolated = interpolateTree(await readMcpConfig(extraFile), options.env, 'mcpServers');
    if (interpolated.issues.length > 0) throw invalid(extraFile, interpolated.issues);
    const extra = resolveMcpServers(interpolated.value as Record<string, unknown>);
    const clashes: ConfigIssue[] = Object.keys(extra.specs)
      .filter((name) => specs[name])
      .map((name) => ({
        path: keyPath('mcpServers', [name]),
        message: `a server with this name is already defined in ${file}`,
      }));
    if (extra.issues.length + clashes.length > 0) throw invalid(extraFile, [...extra.issues, ...clashes]);
    Object.assign(specs, extra.specs);
  }

  const o = options.overrides ?? {};
  const resolved = {
    ...config,
    mcpServers: specs,
    server: {
      ...config.server,
      ...(o.port === undefined ? {} : { port: o.port }),
      ...(o.host ? { host: o.host } : {}),
    },
    storage: { ...config.storage, ...(o.dataDir ? { dataDir: o.dataDir } : {}) },
    configPath: options.path,
  };
  return deepFreeze(resolved);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

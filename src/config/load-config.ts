import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ZiggieError } from '../core/errors.ts';
import type { UpstreamSpec } from '../core/upstream-spec.ts';
import { interpolateTree } from './interpolate.ts';
import { type ConfigIssue, describeIssues, formatIssues } from './issues.ts';
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
  return new ZiggieError('CONFIG_INVALID', `${file} is invalid:\n${formatIssues(issues)}`, {
    file,
    issues,
  });
}

async function readYaml(path: string): Promise<unknown> {
  const text = await readText(path, 'config file');
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw invalid(path, [{ path: '(file)', message: `not valid YAML: ${(error as Error).message}` }]);
  }
}

async function readMcpConfig(path: string): Promise<Record<string, unknown>> {
  const text = await readText(path, 'MCP client config');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalid(path, [{ path: '(file)', message: `not valid JSON: ${(error as Error).message}` }]);
  }
  const block = (parsed as { mcpServers?: unknown } | null)?.mcpServers;
  if (block === null || typeof block !== 'object' || Array.isArray(block)) {
    throw invalid(path, [{ path: 'mcpServers', message: 'expected an object of servers' }]);
  }
  return block as Record<string, unknown>;
}

/**
 * Loads ziggie.yaml (and optionally a client's JSON config), interpolates `${VAR:-default}`,
 * validates everything and returns one frozen object. Every problem is reported at once, each
 * with its key path, the value given and what is allowed.
 */
export async function loadConfig(options: LoadConfigOptions): Promise<ResolvedConfig> {
  const file = options.path ?? '(defaults)';
  const raw = options.path ? interpolateTree(await readYaml(options.path), options.env) : {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid(file, [{ path: '(root)', message: 'expected a mapping of top-level keys' }]);
  }
  const parsed = ConfigFileSchema.safeParse(raw);
  if (!parsed.success) throw invalid(file, describeIssues(parsed.error, raw));
  const config = parsed.data;

  const { specs, issues } = resolveMcpServers(config.mcpServers);
  if (issues.length > 0) throw invalid(file, issues);
  if (options.mcpConfigPath) {
    const block = interpolateTree(await readMcpConfig(options.mcpConfigPath), options.env);
    const extra = resolveMcpServers(block as Record<string, unknown>);
    if (extra.issues.length > 0) throw invalid(options.mcpConfigPath, extra.issues);
    for (const [name, spec] of Object.entries(extra.specs)) {
      if (specs[name]) {
        throw invalid(options.mcpConfigPath, [
          { path: `mcpServers.${name}`, message: `a server named "${name}" is already in ${file}` },
        ]);
      }
      specs[name] = spec;
    }
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

export { interpolateString, interpolateTree } from './interpolate.ts';
export { type ConfigIssue, describeIssues, formatIssues } from './issues.ts';
export { type LoadConfigOptions, loadConfig, type ResolvedConfig } from './load-config.ts';
export { type EntryResult, McpServerEntrySchema, resolveMcpServers, toUpstreamSpec } from './mcp-servers.ts';
export { type ConfigFile, ConfigFileSchema } from './schema.ts';

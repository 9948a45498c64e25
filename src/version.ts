/** Ziggie's version, reported as `serverInfo.version` to MCP clients and by `ziggie --version`. */
export const ZIGGIE_VERSION = '0.1.0';

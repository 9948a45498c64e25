import type { Prompt, Resource, ResourceTemplateType, Tool } from '@modelcontextprotocol/client';
import type { Catalog, CatalogTool } from './catalog.ts';
import { reuseJson } from './downstream/json-text.ts';
import { parseQualifiedResourceUri, qualifiedName, qualifiedResourceUri } from './naming.ts';

/**
 * Which upstreams an MCP endpoint shows and how it names them:
 * - the aggregate `/mcp`: every server, names prefixed `<server><sep><name>`, URIs rewritten;
 * - `/servers/<name>/mcp`: one server, names and URIs as the upstream has them.
 * (Workspace views, a subset of servers with prefixes, come with workspaces.)
 */
export interface ViewSpec {
  /** Stable id, e.g. `aggregate` or `server:fs`; used in logs and metrics. */
  id: string;
  /** `all`, or the names of the servers shown. */
  servers: 'all' | readonly string[];
  prefixed: boolean;
}

export interface ExposedTool {
  server: string;
  entry: CatalogTool;
  exposed: Tool;
}

interface Derived {
  version: number;
  serverNames: string[];
  tools: ExposedTool[];
  /** The `tools/list` result, built (and serialised, see json-text.ts) once per catalog version. */
  toolsList: Readonly<{ tools: Tool[] }> | undefined;
  toolsByName: Map<string, ExposedTool>;
  prompts: Prompt[];
  promptsByName: Map<string, { server: string; name: string }>;
  resources: Resource[];
  resourceTemplates: ResourceTemplateType[];
}

/** A view of the catalog for one endpoint; derived lists are cached until the catalog changes. */
export class CatalogView {
  readonly spec: ViewSpec;
  readonly #catalog: Catalog;
  readonly #separator: string;
  readonly #allServers: () => string[];
  #derived: Derived | undefined;

  constructor(catalog: Catalog, spec: ViewSpec, separator: string, allServers: () => string[]) {
    this.#catalog = catalog;
    this.spec = spec;
    this.#separator = separator;
    this.#allServers = allServers;
  }

  includes(server: string): boolean {
    return this.spec.servers === 'all'
      ? this.#allServers().includes(server)
      : this.spec.servers.includes(server);
  }

  serverNames(): string[] {
    return this.#derive().serverNames;
  }

  tools(): ExposedTool[] {
    return this.#derive().tools;
  }

  /** The `tools/list` result of this view: the same frozen object until the catalog changes. */
  toolsList(): Readonly<{ tools: Tool[] }> {
    const derived = this.#derive();
    derived.toolsList ??= reuseJson({ tools: derived.tools.map((t) => t.exposed) });
    return derived.toolsList;
  }

  resolveTool(name: string): ExposedTool | undefined {
    return this.#derive().toolsByName.get(name);
  }

  prompts(): Prompt[] {
    return this.#derive().prompts;
  }

  resolvePrompt(name: string): { server: string; name: string } | undefined {
    return this.#derive().promptsByName.get(name);
  }

  resources(): Resource[] {
    return this.#derive().resources;
  }

  resourceTemplates(): ResourceTemplateType[] {
    return this.#derive().resourceTemplates;
  }

  /** The URI a client of this view sees for an upstream's resource. */
  exposeUri(server: string, uri: string): string {
    return this.spec.prefixed ? qualifiedResourceUri(server, uri) : uri;
  }

  /** Routes a URI the client sent back to its server and the upstream's own URI. */
  resolveUri(uri: string): { server: string; uri: string } | undefined {
    if (!this.spec.prefixed) {
      const [only] = this.serverNames();
      return only ? { server: only, uri } : undefined;
    }
    const parsed = parseQualifiedResourceUri(uri);
    return parsed && this.includes(parsed.server) ? parsed : undefined;
  }

  /** The exposed name of an upstream prompt/tool name on this view. */
  exposeName(server: string, name: string): string {
    return this.spec.prefixed ? qualifiedName(server, name, this.#separator) : name;
  }

  #derive(): Derived {
    if (this.#derived && this.#derived.version === this.#catalog.version) return this.#derived;
    const known = this.#allServers();
    const serverNames =
      this.spec.servers === 'all' ? known : this.spec.servers.filter((s) => known.includes(s));
    const derived: Derived = {
      version: this.#catalog.version,
      serverNames,
      tools: [],
      toolsList: undefined,
      toolsByName: new Map(),
      prompts: [],
      promptsByName: new Map(),
      resources: [],
      resourceTemplates: [],
    };
    for (const server of serverNames) {
      const listing = this.#catalog.listing(server);
      if (!listing) continue;
      for (const entry of listing.tools) {
        if (!this.#catalog.isVisible(entry)) continue;
        const name = this.exposeName(server, entry.tool.name);
        const meta = {
          ...entry.tool._meta,
          'ziggie/server': server,
          ...(entry.changed ? { 'ziggie/changed': true } : {}),
        };
        const exposed: ExposedTool = { server, entry, exposed: { ...entry.tool, name, _meta: meta } };
        derived.tools.push(exposed);
        derived.toolsByName.set(name, exposed);
      }
      for (const prompt of listing.prompts) {
        const name = this.exposeName(server, prompt.name);
        derived.prompts.push({ ...prompt, name });
        derived.promptsByName.set(name, { server, name: prompt.name });
      }
      for (const resource of listing.resources) {
        derived.resources.push({ ...resource, uri: this.exposeUri(server, resource.uri) });
      }
      for (const template of listing.resourceTemplates) {
        derived.resourceTemplates.push({
          ...template,
          uriTemplate: this.exposeUri(server, template.uriTemplate),
        });
      }
    }
    this.#derived = derived;
    return derived;
  }
}

import type {
  Prompt,
  Resource,
  ResourceTemplateType,
  ServerCapabilities,
  Tool,
} from '@modelcontextprotocol/client';
import type { Logger } from 'pino';
import type { ToolPinRepo } from '../store/types.ts';
import { pinnedDefinitionJson, toolDefinitionHash } from './tool-hash.ts';
import type { Upstream } from './upstream/types.ts';

/** What one upstream offers, as last listed. Kept while the upstream is down so tool sets stay stable. */
export interface ServerListing {
  capabilities: ServerCapabilities;
  instructions?: string;
  tools: CatalogTool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplateType[];
  prompts: Prompt[];
}

/** A tool with its pinning verdict. */
export interface CatalogTool {
  tool: Tool;
  hash: string;
  /** The definition differs from the approved one. */
  changed: boolean;
}

export type ListKind = 'tools' | 'resources' | 'prompts';
export type PinningMode = 'off' | 'warn' | 'strict';

export interface CatalogEvents {
  /** A listing of `server` changed (or appeared); `kinds` says which lists. */
  onListingChanged(server: string, kinds: ListKind[]): void;
  /** A tool's definition no longer matches its pinned hash. */
  onToolChanged(server: string, tool: string): void;
}

/**
 * The gateway's memory of what every upstream offers. Listings are fetched when an upstream
 * connects and again on its `list_changed` notifications; requests are answered from here so a
 * slow or dead upstream never delays listing the others.
 */
export class Catalog {
  readonly #listings = new Map<string, ServerListing>();
  readonly #pins: ToolPinRepo;
  readonly #pinning: PinningMode;
  readonly #events: CatalogEvents;
  readonly #logger: Logger;
  /** Bumped on every change; views cache their derived lists against it. */
  version = 0;

  constructor(pins: ToolPinRepo, pinning: PinningMode, events: CatalogEvents, logger: Logger) {
    this.#pins = pins;
    this.#pinning = pinning;
    this.#events = events;
    this.#logger = logger;
  }

  get pinning(): PinningMode {
    return this.#pinning;
  }

  listing(server: string): ServerListing | undefined {
    return this.#listings.get(server);
  }

  forget(server: string): void {
    if (this.#listings.delete(server)) this.#changed(server, ['tools', 'resources', 'prompts']);
  }

  /** Lists everything `upstream` offers (the lists its capabilities announce). */
  async refreshAll(upstream: Upstream): Promise<void> {
    const capabilities = await upstream.call(async (client) => client.getServerCapabilities() ?? {});
    const instructions = await upstream.call(async (client) => client.getInstructions());
    const previous = this.#listings.get(upstream.spec.name);
    const listing: ServerListing = {
      capabilities,
      ...(instructions ? { instructions } : {}),
      tools: previous?.tools ?? [],
      resources: previous?.resources ?? [],
      resourceTemplates: previous?.resourceTemplates ?? [],
      prompts: previous?.prompts ?? [],
    };
    this.#listings.set(upstream.spec.name, listing);
    await Promise.all([
      this.refresh(upstream, 'tools', false),
      this.refresh(upstream, 'resources', false),
      this.refresh(upstream, 'prompts', false),
    ]);
    this.#changed(upstream.spec.name, ['tools', 'resources', 'prompts']);
  }

  /** Re-lists one kind (after a `list_changed` notification). */
  async refresh(upstream: Upstream, kind: ListKind, notify = true): Promise<void> {
    const listing = this.#listings.get(upstream.spec.name);
    if (!listing) return this.refreshAll(upstream);
    const caps = listing.capabilities;
    if (kind === 'tools' && caps.tools) {
      const { tools } = await upstream.call((client, signal) => client.listTools(undefined, { signal }));
      listing.tools = await this.#pinTools(upstream.spec.name, tools);
    } else if (kind === 'resources' && caps.resources) {
      const [{ resources }, { resourceTemplates }] = await Promise.all([
        upstream.call((client, signal) => client.listResources(undefined, { signal })),
        upstream.call((client, signal) => client.listResourceTemplates(undefined, { signal })),
      ]);
      listing.resources = resources;
      listing.resourceTemplates = resourceTemplates;
    } else if (kind === 'prompts' && caps.prompts) {
      const { prompts } = await upstream.call((client, signal) => client.listPrompts(undefined, { signal }));
      listing.prompts = prompts;
    } else {
      return;
    }
    if (notify) this.#changed(upstream.spec.name, [kind]);
  }

  /** Accepts a changed tool's current definition. */
  /** `pins`: the repository to write through (a transaction's, to audit the approval with it). */
  async approve(server: string, tool: string, pins: ToolPinRepo = this.#pins): Promise<boolean> {
    const approved = await pins.approve(server, tool);
    const entry = this.#listings.get(server)?.tools.find((t) => t.tool.name === tool);
    if (approved && entry?.changed) {
      entry.changed = false;
      this.#changed(server, ['tools']);
    }
    return approved;
  }

  /** Whether a tool is shown: strict pinning hides changed tools until approved. */
  isVisible(entry: CatalogTool): boolean {
    return !(entry.changed && this.#pinning === 'strict');
  }

  async #pinTools(server: string, tools: Tool[]): Promise<CatalogTool[]> {
    if (this.#pinning === 'off')
      return tools.map((tool) => ({ tool, hash: toolDefinitionHash(tool), changed: false }));
    const known = new Map((await this.#pins.list(server)).map((pin) => [pin.tool, pin]));
    const hashed = tools.map((tool) => ({ tool, hash: toolDefinitionHash(tool) }));
    // New and changed definitions are written in one transaction: one commit for the whole listing.
    const unseen = hashed.filter(({ tool, hash }) => known.get(tool.name)?.currentHash !== hash);
    const observed = await this.#pins.observeAll(
      server,
      unseen.map(({ tool, hash }) => ({ tool: tool.name, hash, definition: pinnedDefinitionJson(tool) })),
    );
    const pins = new Map(known);
    for (const pin of observed) pins.set(pin.tool, pin);
    return hashed.map(({ tool, hash }) => {
      const changed = pins.get(tool.name)?.approvedHash !== hash;
      if (changed && known.get(tool.name)?.currentHash !== hash) {
        this.#logger.warn(
          { server, tool: tool.name, pinning: this.#pinning },
          'tool definition changed since it was approved; approve with `ziggie tools approve`',
        );
        this.#events.onToolChanged(server, tool.name);
      }
      return { tool, hash, changed };
    });
  }

  #changed(server: string, kinds: ListKind[]): void {
    this.version++;
    this.#events.onListingChanged(server, kinds);
  }
}

import type { Tool } from '@modelcontextprotocol/client';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ToolPinRepo } from '../store/types.ts';
import { Catalog } from './catalog.ts';
import { reusedJsonText } from './downstream/json-text.ts';
import type { Upstream } from './upstream/types.ts';
import { CatalogView } from './view.ts';

const tool = (name: string): Tool => ({ name, inputSchema: { type: 'object' } });

/** An upstream that lists `tools` (whatever they are at the time of the call). */
function fakeUpstream(name: string, tools: () => Tool[]): Upstream {
  const client = {
    getServerCapabilities: () => ({ tools: {} }),
    getInstructions: () => undefined,
    listTools: async () => ({ tools: tools() }),
  };
  return {
    spec: { name },
    call: (fn: (c: unknown, signal: AbortSignal) => Promise<unknown>) =>
      fn(client, new AbortController().signal),
  } as unknown as Upstream;
}

/** A catalog without pinning (no store needed). */
function unpinnedCatalog(): Catalog {
  return new Catalog(
    {} as ToolPinRepo,
    'off',
    { onListingChanged: () => {}, onToolChanged: () => {} },
    pino({ level: 'silent' }),
  );
}

describe('CatalogView.toolsList', () => {
  it('is one frozen result, serialised once, until the catalog changes', async () => {
    let tools = [tool('read'), tool('write')];
    const catalog = unpinnedCatalog();
    const view = new CatalogView(catalog, { id: 'aggregate', servers: 'all', prefixed: true }, '__', () => [
      'fs',
    ]);
    const fs = fakeUpstream('fs', () => tools);
    await catalog.refreshAll(fs);

    const first = view.toolsList();
    expect(first.tools.map((t) => t.name)).toEqual(['fs__read', 'fs__write']);
    expect(Object.isFrozen(first)).toBe(true);
    expect(view.toolsList()).toBe(first);
    // The transport writes the cached text: the same JSON as serialising the result.
    expect(reusedJsonText(first)).toBe(JSON.stringify(first));

    tools = [tool('read')];
    await catalog.refresh(fs, 'tools');
    const second = view.toolsList();
    expect(second).not.toBe(first);
    expect(second.tools.map((t) => t.name)).toEqual(['fs__read']);
    expect(reusedJsonText(second)).toBe(JSON.stringify(second));
  });

  it('leaves results that were not marked alone', () => {
    expect(reusedJsonText({ tools: [] })).toBeUndefined();
    expect(reusedJsonText('text')).toBeUndefined();
  });
});

import { ProtocolError, ProtocolErrorCode, UriTemplate } from '@modelcontextprotocol/server';
import type { Catalog } from '../catalog.ts';
import type { CatalogView } from '../view.ts';

/** A resource a client may subscribe to: its server and the upstream's own URI. */
export interface SubscribableResource {
  server: string;
  uri: string;
}

/**
 * Routes a URI a client wants to subscribe to (as this view shows it) to its upstream, and checks
 * that the upstream offers it: listed by `resources/list`, or matching one of its resource
 * templates. A 2026-07-28 upstream acknowledges any URI in a `subscriptions/listen` filter, so
 * without this check a typo would be a subscription that never fires. A server not listed yet
 * (lazy, or down) is given the benefit of the doubt: the upstream answers for itself.
 */
export function resolveSubscribable(
  catalog: Catalog,
  view: CatalogView,
  exposedUri: string,
): SubscribableResource {
  const target = view.resolveUri(exposedUri);
  const listing = target && catalog.listing(target.server);
  const known =
    target &&
    (!listing ||
      listing.resources.some((r) => r.uri === target.uri) ||
      listing.resourceTemplates.some((t) => matches(t.uriTemplate, target.uri)));
  if (!target || !known) {
    throw new ProtocolError(
      ProtocolErrorCode.InvalidParams,
      `unknown resource "${exposedUri}": no server behind this endpoint offers it`,
      { code: 'RESOURCE_NOT_FOUND', uri: exposedUri },
    );
  }
  return target;
}

function matches(template: string, uri: string): boolean {
  try {
    return new UriTemplate(template).match(uri) !== null;
  } catch {
    return false;
  }
}

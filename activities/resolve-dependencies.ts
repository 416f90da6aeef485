// resolveDependencies: before a document (or project) is committed, the customer and project it
// references must be in Postgres (foreign keys enforce it) and not stale. Missing or stale ones are
// fetched and committed here, customer before project, a project's own customer before the project.
import { Context } from '@temporalio/activity';
import type { Database } from '../src/db/client';
import { commitRecord, readStoredEntity } from '../src/sync/commit';
import { dependenciesOf, type DependencyRef } from '../src/sync/entity-record';
import type { EconomicAccess, TenantRef } from './economic-access';
import { readEntity } from './fetch-entity';

/**
 * A stored dependency counts as fresh when it was synced after the document last changed, or within
 * this window: a burst of webhooks for one customer's documents then costs one customer fetch, not one
 * per document. Reconciliation and the dependency's own events keep it current beyond that.
 */
export const DEPENDENCY_FRESHNESS_MS = 5 * 60 * 1000;

export interface ResolveDependenciesInput extends TenantRef {
  dependencies: DependencyRef[];
  /** The referencing document's lastUpdated (ISO), if it has one. */
  referencedAt?: string | null;
}

export interface ResolveDependenciesResult {
  synced: DependencyRef[];
  /** References e-conomic itself cannot resolve (no such customer or project). */
  missing: DependencyRef[];
}

export function createResolveDependenciesActivity(deps: { db: Database; access: EconomicAccess }) {
  return {
    async resolveDependencies(input: ResolveDependenciesInput): Promise<ResolveDependenciesResult> {
      const result: ResolveDependenciesResult = { synced: [], missing: [] };
      const session = await deps.access.open(input, Context.current().cancellationSignal);
      const referencedAt = input.referencedAt ? new Date(input.referencedAt).getTime() : 0;

      const ensure = async (dep: DependencyRef, depth: number): Promise<void> => {
        const stored = await readStoredEntity(deps.db, input.tenantId, dep.kind, dep.number);
        const syncedAt = stored?.syncedAt.getTime() ?? 0;
        if (stored && (syncedAt >= referencedAt || Date.now() - syncedAt < DEPENDENCY_FRESHNESS_MS)) return;
        const fetchedAt = new Date().toISOString();
        const record = await session.run((client) => readEntity(client, deps.db, input.tenantId, dep.kind, dep.number, fetchedAt));
        if (!record) {
          // A stored (now deleted) row still satisfies the reference; only a never-seen one is missing.
          if (!stored) result.missing.push(dep);
          return;
        }
        if (depth < 2) {
          for (const inner of dependenciesOf(record)) await ensure(inner, depth + 1);
        }
        await commitRecord(deps.db, input.tenantId, record);
        result.synced.push(dep);
      };

      for (const dep of input.dependencies) await ensure(dep, 0);
      return result;
    },
  };
}

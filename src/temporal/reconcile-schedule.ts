// The reconciliation Schedule of each tenant, `reconcile/<tenant>` (docs/temporal.md): one schedule per tenant
// with credentials, firing every `reconcileIncrementalEvery` (default 15m); its action starts the
// reconcile workflow in mode `auto`, which runs full when the tenant's last full run is older than
// `reconcileFullEvery` (default 24h) and incremental otherwise. Overlap policy SKIP: a run still going
// when the next one is due is not doubled; every wait in a run has a deadline (workflows/reconcile.ts),
// so a run ends and the next one is never skipped for long. Tenants fire at a deterministic offset
// within the interval (a hash of the name), so many tenants do not all start at the same second.
// The workflow runs on the reconciliation task queue. Visible and pausable in the Temporal UI; `ensure`
// keeps a pause (it updates spec, action and policies only).
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import { msToNumber } from '@temporalio/common';
import { sql } from 'drizzle-orm';
import type { Config } from '../config';
import { queryRows, type Database } from '../db/client';
import { reconcileScheduleId } from '../shared/entities';
import { RECONCILE_WORKFLOW_TYPE, type ReconcileInput, type ReconcileOptions } from '../shared/reconcile';
import { EconomicTenant } from '../shared/search-attributes';
import type { reconcileWorkflow } from '../../workflows/reconcile';

export interface ReconcileTenant {
  id: number;
  name: string;
}

export type ReconcileScheduleConfig = Pick<Config, 'reconcileIncrementalEvery' | 'reconcileFullEvery'> &
  Partial<Pick<Config, 'reconcileMaxDeleteShare'>> & { reconcileOptions?: ReconcileOptions };

/** The tenant's place in the interval: FNV-1a of its name, in whole seconds below `everyMs`. */
export function scheduleOffsetMs(tenant: string, everyMs: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(tenant, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  const seconds = Math.floor(everyMs / 1000);
  return seconds > 1 ? (hash % seconds) * 1000 : 0;
}

function scheduleParts(taskQueue: string, tenant: ReconcileTenant, config: ReconcileScheduleConfig) {
  const options: ReconcileOptions = {
    ...(config.reconcileMaxDeleteShare === undefined ? {} : { maxDeleteShare: config.reconcileMaxDeleteShare }),
    ...config.reconcileOptions,
  };
  const input: ReconcileInput = {
    tenantId: tenant.id,
    tenant: tenant.name,
    mode: 'auto',
    fullEveryMs: msToNumber(config.reconcileFullEvery),
    ...(Object.keys(options).length > 0 ? { options } : {}),
  };
  const everyMs = msToNumber(config.reconcileIncrementalEvery);
  const action: ScheduleOptionsStartWorkflowAction<typeof reconcileWorkflow> = {
    type: 'startWorkflow',
    workflowType: RECONCILE_WORKFLOW_TYPE,
    workflowId: `${reconcileScheduleId(tenant.name)}/scheduled`,
    taskQueue,
    args: [input],
    typedSearchAttributes: [{ key: EconomicTenant, value: tenant.name }],
  };
  return {
    spec: { intervals: [{ every: everyMs, offset: scheduleOffsetMs(tenant.name, everyMs) }] },
    action,
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour', pauseOnFailure: false },
  };
}

/** Creates the tenant's schedule, or brings an existing one up to date (a pause is kept). Idempotent. */
export async function ensureReconcileSchedule(client: Client, taskQueue: string, tenant: ReconcileTenant, config: ReconcileScheduleConfig): Promise<'created' | 'updated'> {
  const scheduleId = reconcileScheduleId(tenant.name);
  const parts = scheduleParts(taskQueue, tenant, config);
  try {
    await client.schedule.create({
      scheduleId,
      ...parts,
      state: { note: `reconciliation of tenant ${tenant.name}: incremental every ${config.reconcileIncrementalEvery}, full every ${config.reconcileFullEvery}` },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, ...parts }));
  return 'updated';
}

/** Every tenant that has e-conomic credentials (a stored grant). */
export async function tenantsWithCredentials(db: Database): Promise<ReconcileTenant[]> {
  return queryRows<{ id: number; name: string }>(
    db,
    sql`select t.id, t.name from tenants t join tenant_credentials c on c.tenant_id = t.id order by t.id`,
  );
}

/** At service start: a schedule for every tenant with credentials. */
export async function ensureAllReconcileSchedules(client: Client, taskQueue: string, db: Database, config: ReconcileScheduleConfig): Promise<number> {
  const tenants = await tenantsWithCredentials(db);
  for (const tenant of tenants) await ensureReconcileSchedule(client, taskQueue, tenant, config);
  return tenants.length;
}

// The operator commands over a real database and Temporal: `status` reports rows, deletions and
// failures per tenant and kind; `retry-failed` starts a new sync of exactly the failed entities.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { runCommand } from '../src/cli/commands';
import { CliError, type CommandContext } from '../src/cli/context';
import { loadConfig } from '../src/config';
import { entityWorkflowId } from '../src/shared/entities';
import type { entitySyncWorkflow } from '../workflows/entity-sync';
import { startSyncHarness, type SyncHarness } from './helpers/sync-harness';

let h: SyncHarness;
let ctx: CommandContext;

before(async () => {
  h = await startSyncHarness();
  await h.startWorker();
  ctx = {
    config: { ...loadConfig({}), taskQueue: h.taskQueue },
    db: h.database.db,
    temporal: () => Promise.resolve(h.temporal.env.client),
  };
});

after(async () => {
  await h?.close();
});

test('status and retry-failed: a failed sync is reported, retried, and then counted as a row', async () => {
  const tenant = await h.createTenant('operations');
  // An order whose customer e-conomic does not know yet: the sync fails with DependencyMissing.
  const order = tenant.agreement.createOrder({ customerNumber: 777, lines: [{ description: 'x', quantity: 1, unitNetPrice: 10 }] });
  const failure = await (await h.signal(tenant, 'order', order)).result().then(
    () => assert.fail('expected a failure'),
    (err: unknown) => err,
  );
  assert.ok(failure instanceof WorkflowFailedError);

  let status = (await runCommand(ctx, 'status', { tenant: 'operations' })).stdout;
  assert.match(status, new RegExp(`operations\\s+${tenant.agreement.agreementNumber}\\s+ok\\s+order\\s+0\\s+0\\s+-\\s+1\\s+ok`));

  tenant.agreement.upsertCustomer({ customerNumber: 777, name: 'Endelig', currency: 'DKK' });
  const retried = await runCommand(ctx, 'retry-failed', { tenant: 'operations' });
  assert.equal(retried.stdout, 'Started 1 sync of entities whose last sync failed.');
  const result = await h.temporal.env.client.workflow.getHandle<typeof entitySyncWorkflow>(entityWorkflowId('operations', 'order', order)).result();
  assert.equal(result.lastOutcome, 'synced');

  status = (await runCommand(ctx, 'status', { tenant: 'operations' })).stdout;
  assert.match(status, /operations\s+\d+\s+ok\s+order\s+1\s+0\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+0\s+ok/);
  assert.match(status, /operations\s+\d+\s+ok\s+customer\s+1\s+0/);
  assert.equal((await runCommand(ctx, 'retry-failed', { tenant: 'operations' })).stdout, 'No failed syncs to retry.');
});

test('unknown tenants get a clear error', async () => {
  await assert.rejects(runCommand(ctx, 'status', { tenant: 'nobody' }), (err: unknown) => err instanceof CliError && /no tenant named "nobody"/.test(err.message));
  await assert.rejects(runCommand(ctx, 'retry-failed', { tenant: 'nobody' }), CliError);
});

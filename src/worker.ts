// The Temporal worker of economic-sync: runs the workflows in ../workflows with the activities built
// from their dependencies. Compiled (production), it loads the workflow bundle `npm run build` wrote
// (docs/production.md); from the sources (development, tests) it bundles the workflow code once per process.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleOption, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Activities } from '../activities';
import { PROJECT_ROOT, RUNNING_COMPILED } from './project-root';

/** Written by `npm run build` (scripts/build.ts) next to the compiled code. */
export const PREBUILT_WORKFLOW_BUNDLE = path.join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');

/** Bundles the workflow sources with webpack (seconds): at build time, or at start from the sources. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietBundlerLogger });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * The workflow code for a Worker. Compiled, only the prebuilt bundle is used: bundling at every start
 * costs seconds and memory in each worker process, and could differ from the code that was built.
 */
export async function workflowBundle(): Promise<WorkflowBundleOption> {
  if (RUNNING_COMPILED) {
    if (!existsSync(PREBUILT_WORKFLOW_BUNDLE)) {
      throw new Error(`${PREBUILT_WORKFLOW_BUNDLE} is missing: run \`npm run build\` (it compiles the service and prebuilds the workflow bundle)`);
    }
    return { codePath: PREBUILT_WORKFLOW_BUNDLE };
  }
  // Tests create many workers in one process: bundle once.
  bundle ??= bundleWorkflows();
  return bundle;
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

/**
 * Reconciliation activities one process runs at once (RECONCILE_TASK_QUEUE): each lists pages and signals
 * entities, never waiting for them, so a few slots serve many tenants, and the CPU stays with entity syncs.
 */
export const RECONCILE_ACTIVITY_SLOTS = 8;

export interface SyncWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  /** Bounds on concurrent work, so a burst cannot exhaust e-conomic's quota or our database pool. */
  maxConcurrentActivityTaskExecutions?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
}

export async function createSyncWorker(options: SyncWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: await workflowBundle(),
    activities: options.activities,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions ?? 20,
    // A sync's first attempt is a local activity (workflows/activity-options.ts): the same bound applies.
    maxConcurrentLocalActivityExecutions: options.maxConcurrentActivityTaskExecutions ?? 20,
    maxConcurrentWorkflowTaskExecutions: options.maxConcurrentWorkflowTaskExecutions ?? 40,
    // Workflow task polls follow the backlog of each queue (the SDK's autoscaling, on the server's
    // feedback: Temporal's recommended setting, served from server 1.28 on), not the fixed default of 10
    // with 2 on the shared queue. Nearly every task of an entity workflow is on the shared queue: a run's
    // first task, and a task after Temporal refused a completion (docs/temporal.md, "Local-first sync").
    // With the fixed polls the last of them waited there, the worker idle, for seconds after the rest of
    // a burst was synced (docs/benchmarks.md, "Workflow task polls").
    workflowTaskPollerBehavior: { type: 'autoscaling' },
    // Workers killed mid-flight hand their tasks back quickly when restarted.
    shutdownGraceTime: '10 seconds',
  });
}

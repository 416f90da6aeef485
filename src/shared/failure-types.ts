// Failure types of the sync and reconciliation activities. Pure: workflows import them for their
// retry policies, activities to raise them.
export const FAILURE_TYPES = {
  credentialsRejected: 'EconomicCredentialsRejected',
  forbidden: 'EconomicForbidden',
  /** 429 from e-conomic, or its agreement paused after one (any worker saw it): retried after the pause. */
  rateLimited: 'EconomicRateLimited',
  /**
   * The agreement's daily call budget is spent (ECONOMIC_DAILY_CALL_BUDGET): nothing was called; retried
   * when the 24-hour window ends (docs/economic-api.md, "The call budget").
   */
  budgetExhausted: 'EconomicBudgetExhausted',
  transient: 'EconomicTransient',
  badRequest: 'EconomicBadRequest',
  listingNotFound: 'EconomicListingNotFound',
  credentialsMissing: 'CredentialsMissing',
  credentialsBroken: 'CredentialsBroken',
  dependencyMissing: 'DependencyMissing',
  reconcileMisconfigured: 'ReconcileMisconfigured',
  /** Postgres unreachable, restarting or overloaded (or a deadlock): retried until it answers. */
  databaseUnavailable: 'DatabaseUnavailable',
  /**
   * A commit kept violating a foreign key or unique constraint after the entity and its dependencies were
   * fetched again a few times (their references changed under it): the data must change first.
   */
  integrityViolation: 'IntegrityViolation',
  /** Postgres refused a statement for a reason no retry heals (a bug or bad data); its message never quotes data. */
  database: 'DatabaseError',
  /** An outbound change webhook the subscriber did not accept (an error status, no answer): retried, then dead-lettered. */
  changeDeliveryFailed: 'ChangeDeliveryFailed',
} as const;

/** Failure types no retry can heal: the activity fails at once, the workflow shows why. */
export const NON_RETRYABLE_TYPES: string[] = [
  FAILURE_TYPES.credentialsRejected,
  FAILURE_TYPES.forbidden,
  FAILURE_TYPES.badRequest,
  FAILURE_TYPES.listingNotFound,
  FAILURE_TYPES.credentialsMissing,
  FAILURE_TYPES.credentialsBroken,
  FAILURE_TYPES.dependencyMissing,
  FAILURE_TYPES.reconcileMisconfigured,
  FAILURE_TYPES.integrityViolation,
  FAILURE_TYPES.database,
];

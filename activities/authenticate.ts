// Validates the tenant's grant with e-conomic's GET /self and learns the agreement number, before a sync
// fetches anything. Validation is cached (in the database, for all workers) so a burst of events costs
// one /self call, not one per event.
import type { EconomicSession } from './economic-access';

/** How long a successful /self validation is trusted. A revoked grant still fails the next fetch. */
export const GRANT_VALIDATION_TTL_MS = 60 * 60 * 1000;

export async function ensureGrantValidated(session: EconomicSession): Promise<{ agreementNumber: number; validated: 'cached' | 'now' }> {
  if (session.status === 'ok' && session.agreementNumber !== null && session.validatedAt && Date.now() - session.validatedAt.getTime() < GRANT_VALIDATION_TTL_MS) {
    return { agreementNumber: session.agreementNumber, validated: 'cached' };
  }
  const self = await session.run((client) => client.getSelf());
  await session.markOk(self.agreementNumber);
  return { agreementNumber: self.agreementNumber, validated: 'now' };
}

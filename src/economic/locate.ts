// Finds a sales document whose state (drafts, sent, archived) is unknown, in as few calls as possible.

import { DOCUMENT_STATES } from './types';
import type { DocumentState } from './types';

/**
 * The order in which to look: the hint first; then the states after it in the lifecycle (documents only move
 * forward: drafts → sent → archived); then the states before it. Without a hint: lifecycle order.
 */
export function lookupOrder(hint?: DocumentState): DocumentState[] {
  if (hint === undefined) return [...DOCUMENT_STATES];
  const i = DOCUMENT_STATES.indexOf(hint);
  return [hint, ...DOCUMENT_STATES.slice(i + 1), ...DOCUMENT_STATES.slice(0, i)];
}

export async function locateDocument<D>(
  get: (state: DocumentState, n: number) => Promise<D | null>,
  n: number,
  hint?: DocumentState,
): Promise<{ state: DocumentState; document: D } | null> {
  for (const state of lookupOrder(hint)) {
    const document = await get(state, n);
    if (document !== null) return { state, document };
  }
  return null;
}

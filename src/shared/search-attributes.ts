// Typed keys of the search attributes of docs/temporal.md. Pure: imported by workflows and the client alike.
// ALL_SEARCH_ATTRIBUTES is what the dev server launcher and the server registration register.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const EconomicTenant = defineSearchAttributeKey('EconomicTenant', SearchAttributeType.KEYWORD);
/** The e-conomic source the entity belongs to (KIND_SOURCE in ./entities.ts), whatever triggered the sync. */
export const EconomicSource = defineSearchAttributeKey('EconomicSource', SearchAttributeType.KEYWORD);
export const EconomicNumber = defineSearchAttributeKey('EconomicNumber', SearchAttributeType.INT);
/** What started the run: a webhook's APISource, `reconcile`, `retry-failed` (the change event's `source`). */
export const EconomicTrigger = defineSearchAttributeKey('EconomicTrigger', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [EconomicTenant, EconomicSource, EconomicNumber, EconomicTrigger];

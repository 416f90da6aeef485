// Typed keys of the search attributes of docs/temporal.md. Pure: imported by workflows and the client alike.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const EconomicTenant = defineSearchAttributeKey('EconomicTenant', SearchAttributeType.KEYWORD);
export const EconomicSource = defineSearchAttributeKey('EconomicSource', SearchAttributeType.KEYWORD);
export const EconomicNumber = defineSearchAttributeKey('EconomicNumber', SearchAttributeType.INT);

export const ALL_SEARCH_ATTRIBUTES = [EconomicTenant, EconomicSource, EconomicNumber];

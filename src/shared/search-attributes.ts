// Typed keys of the contract's search attributes (§5). Pure: imported by workflows and the client alike.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const EconomicTenant = defineSearchAttributeKey('EconomicTenant', SearchAttributeType.KEYWORD);
export const EconomicSource = defineSearchAttributeKey('EconomicSource', SearchAttributeType.KEYWORD);
export const EconomicNumber = defineSearchAttributeKey('EconomicNumber', SearchAttributeType.INT);

export const ALL_SEARCH_ATTRIBUTES = [EconomicTenant, EconomicSource, EconomicNumber];

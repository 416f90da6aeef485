// Async iteration over e-conomic collections: legacy REST skippages/pagesize, and the Projects API's
// cursor listing (docs/economic-api.md). Both go through EconomicHttp.list, so a 404 on a listing raises
// `listing_not_found` instead of ending the iteration as if e-conomic had nothing.

import type { EconomicHttp } from './http';
import { parseCollection, parseProjectPage } from './types';
import type { ListOptions, Page, ProjectListOptions, ProjectPage } from './types';

/** Largest `pagesize` the legacy REST accepts. */
export const MAX_PAGE_SIZE = 1000;

function pageSizeOf(requested: number | undefined): number {
  const size = requested ?? MAX_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new RangeError(`pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  return size;
}

export async function* skipPaged<T>(
  http: EconomicHttp,
  base: string,
  path: string,
  opts: ListOptions | undefined,
  parseItem: (v: unknown) => T,
): AsyncGenerator<Page<T>> {
  const pageSize = pageSizeOf(opts?.pageSize);
  let skipPages = opts?.skipPages ?? 0;
  for (;;) {
    const raw = await http.list({
      api: 'rest',
      base,
      path,
      endpoint: path,
      query: { skippages: skipPages, pagesize: pageSize, filter: opts?.filter, sort: opts?.sort },
      parse: parseCollection,
    });
    const items = raw.collection.map(parseItem);
    const more = typeof raw.pagination.nextPage === 'string' && items.length > 0;
    const results = typeof raw.pagination.results === 'number' ? raw.pagination.results : items.length;
    const page: Page<T> = { items, skipPages, pageSize, results };
    if (more) page.nextSkipPages = skipPages + 1;
    yield page;
    if (!more) return;
    skipPages += 1;
  }
}

/**
 * The Projects API's `GET /Projects?cursor=&filter=`: e-conomic decides the page size (at most 1,000) and
 * the order; the cursor endpoint takes neither `pageSize` nor `sort`. The last page has no cursor.
 */
export async function* cursorPaged(
  http: EconomicHttp,
  base: string,
  path: string,
  opts: ProjectListOptions | undefined,
): AsyncGenerator<ProjectPage> {
  let cursor = opts?.cursor;
  for (;;) {
    const page = await http.list({
      api: 'projects',
      base,
      path,
      endpoint: path,
      query: { cursor, filter: opts?.filter },
      parse: parseProjectPage,
    });
    yield page;
    // An empty page that still hands out a cursor (or the same cursor again) would loop forever.
    if (page.cursor === undefined || page.items.length === 0 || page.cursor === cursor) return;
    cursor = page.cursor;
  }
}

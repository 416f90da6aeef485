// Async iteration over e-conomic collections: legacy REST skippages/pagesize, and Projects API cursors.

import type { EconomicHttp } from './http';
import { parseCollection, parseProjectPage } from './types';
import type { ListOptions, Page, ProjectListOptions, ProjectPage } from './types';

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
    const raw = await http.get({
      base,
      path,
      endpoint: path,
      query: { skippages: skipPages, pagesize: pageSize, filter: opts?.filter, sort: opts?.sort },
      parse: parseCollection,
    });
    // A collection endpoint answering 404 has nothing to list.
    if (raw === null) return;
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

export async function* cursorPaged(
  http: EconomicHttp,
  base: string,
  path: string,
  opts: ProjectListOptions | undefined,
): AsyncGenerator<ProjectPage> {
  let cursor = opts?.cursor;
  const pageSize = opts?.pageSize === undefined ? undefined : pageSizeOf(opts.pageSize);
  for (;;) {
    const page = await http.get({
      base,
      path,
      endpoint: path,
      query: { cursor, pageSize, filter: opts?.filter },
      parse: parseProjectPage,
    });
    if (page === null) return;
    yield page;
    if (page.cursor === undefined || page.items.length === 0) return;
    cursor = page.cursor;
  }
}

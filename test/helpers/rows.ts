// Reads of the read model that several tests make.
import type { Database } from '../../src/db/client';
import { economicDocumentLines, type DocumentType } from '../../src/db/schema';
import { linesOf } from '../../src/store/entity-store';

/** The lines of one document, in line order. */
export function documentLines(db: Database, tenantId: number, type: DocumentType, number: number) {
  return db.select().from(economicDocumentLines).where(linesOf(tenantId, type, number)).orderBy(economicDocumentLines.lineNumber);
}

/** The schema of a tabular dataset version, read from the table itself. */
import type { DatasetSchema } from '../client/schemas/datasets.js';
import { inferStringKind } from '../monitoring/profile/column-kind.js';
import type { Table } from '../monitoring/table.js';

/**
 * Each column's type: numbers are `long` when every value is a whole number (in the safe-integer
 * range) and `double` otherwise; text columns of only true/false are `boolean`, the rest `string`.
 * `required` is true when no row lacks a value.
 */
export function schemaOfTable(table: Table): DatasetSchema {
  return {
    columns: table.columns.map((col) => {
      if (col.type === 'number') {
        let whole = true;
        let missing = false;
        let present = 0;
        for (const v of col.values) {
          if (Number.isNaN(v)) missing = true;
          else {
            present++;
            if (!Number.isSafeInteger(v)) whole = false;
          }
        }
        return { name: col.name, type: whole && present > 0 ? 'long' : 'double', required: !missing };
      }
      const missing = col.values.some((v) => v === null);
      return { name: col.name, type: inferStringKind(col.values) === 'boolean' ? 'boolean' : 'string', required: !missing };
    }),
  };
}

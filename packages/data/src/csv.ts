/** One data row of a CSV file, with the 1-based line it starts on (for error messages). */
export interface CsvRow {
  line: number;
  values: string[];
}

export interface CsvTable {
  header: string[];
  rows: CsvRow[];
}

/**
 * Parses CSV text (RFC 4180: comma separated, fields optionally in double quotes, `""` for
 * a quote inside quotes, quoted fields may hold commas and line breaks; LF or CRLF line
 * ends). Blank lines are ignored. `file` only names the source in error messages.
 */
export function parseCsv(text: string, file: string): CsvTable {
  const records = splitRecords(text.replace(/^\uFEFF/, ''), file);
  const [headerRecord, ...dataRecords] = records;
  if (!headerRecord) throw new Error(`${file} is empty: expected a header line`);
  const header = headerRecord.values.map((name) => name.trim());
  for (const record of dataRecords) {
    if (record.values.length !== header.length) {
      throw new Error(
        `${file} line ${record.line}: ${record.values.length} fields, but the header has ${header.length}`,
      );
    }
  }
  return { header, rows: dataRecords };
}

function splitRecords(text: string, file: string): CsvRow[] {
  const records: CsvRow[] = [];
  let values: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let inQuotes = false;
  let quoteLine = 0;
  const endRecord = (): void => {
    values.push(field);
    // A line with nothing on it is blank, not a record with one empty field.
    if (values.length > 1 || values[0] !== '') records.push({ line: recordLine, values });
    values = [];
    field = '';
  };
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inQuotes) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') {
        inQuotes = false;
      } else {
        if (char === '\n') line++;
        field += char;
      }
    } else if (char === '"') {
      inQuotes = true;
      quoteLine = line;
    } else if (char === ',') {
      values.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += char;
    }
  }
  if (inQuotes) throw new Error(`${file} line ${quoteLine}: a quoted field is never closed`);
  endRecord();
  return records;
}

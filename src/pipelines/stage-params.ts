/** The param values a stage reads: dotted keys of YAML or JSON params files, read once per repro. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { canonicalJson } from '../core/canonical-json.js';
import { SlipwayError } from '../core/errors.js';
import type { Stage } from './pipeline-types.js';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads params files of one workspace, each parsed once. */
export class ParamsReader {
  private readonly files = new Map<string, Promise<Record<string, unknown>>>();

  constructor(private readonly root: string) {}

  private load(file: string, stage: string): Promise<Record<string, unknown>> {
    let got = this.files.get(file);
    if (!got) {
      got = (async () => {
        let text: string;
        try {
          text = await readFile(join(this.root, file), 'utf8');
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          throw new SlipwayError('INVALID_ARGUMENT', `stage '${stage}' reads params from ${file}, which ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}.`, { stage, file });
        }
        let parsed: unknown;
        try {
          parsed = file.endsWith('.json') ? JSON.parse(text) : parse(text);
        } catch (err) {
          throw new SlipwayError('INVALID_ARGUMENT', `${file} (params of stage '${stage}') is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`, { stage, file });
        }
        if (parsed === null || parsed === undefined) return {};
        if (!isRecord(parsed)) throw new SlipwayError('INVALID_ARGUMENT', `${file} (params of stage '${stage}') must be a mapping of param names to values.`, { stage, file });
        return parsed;
      })();
      this.files.set(file, got);
    }
    return got;
  }

  /** Per params file, the values of the stage's keys (`*` gives the whole file). */
  async valuesOf(stage: Stage): Promise<Record<string, Record<string, unknown>>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const { file, keys } of stage.params) {
      const doc = await this.load(file, stage.name);
      const values: Record<string, unknown> = {};
      if (keys.length === 1 && keys[0] === '*') Object.assign(values, doc);
      else {
        for (const key of keys) {
          let v: unknown = key in doc ? doc[key] : doc;
          if (!(key in doc)) {
            for (const part of key.split('.')) {
              if (!isRecord(v) || !(part in v)) throw new SlipwayError('INVALID_ARGUMENT', `${file} has no param '${key}' (read by stage '${stage.name}').`, { stage: stage.name, file, key });
              v = v[part];
            }
          }
          values[key] = v;
        }
      }
      out[file] = values;
    }
    return out;
  }
}

/** The keys whose values differ between the locked params and the current ones, as `FILE:KEY` texts. */
export function changedParams(before: Record<string, Record<string, unknown>>, now: Record<string, Record<string, unknown>>): string[] {
  const changed: string[] = [];
  const files = new Set([...Object.keys(before), ...Object.keys(now)]);
  for (const file of files) {
    const a = before[file] ?? {};
    const b = now[file] ?? {};
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (canonicalJson(a[key]) !== canonicalJson(b[key])) changed.push(`${file}:${key}`);
    }
  }
  return changed;
}

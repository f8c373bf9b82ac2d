/**
 * What the example's stages share: reading and writing CSV tables, reading params.yaml, and
 * logistic regression's prediction. Plain Node, no packages, so the example runs wherever Slipway does.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** Reads a numeric CSV table with a header line. */
export function readCsv(path) {
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  return { header: head.split(','), rows: lines.map((l) => l.split(',').map(Number)) };
}

/** Writes a CSV table (creating its folder). */
export function writeCsv(path, header, rows) {
  writeText(path, `${[header.join(','), ...rows.map((r) => r.join(','))].join('\n')}\n`);
}

/** Writes a text file, creating its folder. */
export function writeText(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** Writes a JSON file, creating its folder. */
export function writeJson(path, value) {
  writeText(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Reads one section of params.yaml: `section:` followed by indented `key: value` lines (numbers,
 * true/false or text). Enough YAML for this file; a real project would use a YAML package.
 */
export function readParams(section, path = 'params.yaml') {
  const out = {};
  let inside = false;
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    if (/^\s*(#|$)/.test(line)) continue;
    const top = /^(\S[^:]*):\s*$/.exec(line);
    if (top) {
      inside = top[1] === section;
      continue;
    }
    const entry = /^\s+([^:#]+):\s*([^#]*?)\s*(#.*)?$/.exec(line);
    if (inside && entry) {
      const raw = entry[2];
      out[entry[1].trim()] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
    }
  }
  return out;
}

/** The label column's index, or exit 2 naming the problem. */
export function labelIndex(header, label, file) {
  const i = header.indexOf(label);
  if (i < 0) {
    console.error(`${file} has no '${label}' column`);
    process.exit(2);
  }
  return i;
}

/** Splits rows into features and labels. */
export function featuresAndLabels(rows, label) {
  return { X: rows.map((r) => r.filter((_, i) => i !== label)), y: rows.map((r) => r[label]) };
}

/** P(label = 1) under the trained model (weights.json's shape). */
export function predict(model, x) {
  let t = model.bias;
  for (let j = 0; j < x.length; j++) t += (model.weights[j] * (x[j] - model.mean[j])) / model.std[j];
  return 1 / (1 + Math.exp(-t));
}

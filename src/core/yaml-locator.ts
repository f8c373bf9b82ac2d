/**
 * Positions in a parsed YAML document, so a mistake in `slipway.yaml` or `slipway.lock` reads
 * `FILE:LINE:COL: key.path: problem`, pointing at the offending key.
 */
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { SlipwayError } from './errors.js';

/** A step of a path into a document: a mapping key or a list index. */
export type PathKey = string | number;

/** `stages.train.deps[0]` for `['stages', 'train', 'deps', 0]`. */
export function dottedPath(path: readonly PathKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

/** A parsed YAML file that can say where each of its keys is. */
export class YamlLocator {
  private constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Parses `text`; invalid YAML throws INVALID_ARGUMENT as `FILE:LINE:COL: not valid YAML: …`. */
  static parse(text: string, file: string): { locator: YamlLocator; value: unknown } {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    const yamlError = doc.errors[0];
    if (yamlError) {
      const { line, col } = lines.linePos(yamlError.pos[0]);
      throw new SlipwayError('INVALID_ARGUMENT', `${file}:${line}:${col}: not valid YAML: ${yamlError.message.split('\n')[0]}`, { file, line, column: col });
    }
    return { locator: new YamlLocator(file, doc, lines), value: doc.toJS() as unknown };
  }

  /** `FILE:LINE:COL` of the key at `path` (or of the deepest part of it that exists). */
  where(path: readonly PathKey[]): string {
    const { line, col } = this.position(path);
    return `${this.file}:${line}:${col}`;
  }

  /** An INVALID_ARGUMENT error `FILE:LINE:COL: path: message`. */
  error(path: readonly PathKey[], message: string): SlipwayError {
    const { line, col } = this.position(path);
    return new SlipwayError('INVALID_ARGUMENT', `${this.file}:${line}:${col}: ${dottedPath(path)}: ${message}`, { file: this.file, line, column: col, key: dottedPath(path) });
  }

  private position(path: readonly PathKey[]): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let at: Node | undefined = isScalar(node) || isMap(node) || isSeq(node) ? (node as Node) : undefined;
    for (const key of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(key));
        if (!pair) break;
        if (isScalar(pair.key)) at = pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof key === 'number') {
        const item = node.items[key];
        if (!item) break;
        at = item as Node;
        node = item;
      } else break;
    }
    return this.lines.linePos(at?.range?.[0] ?? 0);
  }
}

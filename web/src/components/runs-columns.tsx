/**
 * The column chooser of the runs table: the metric, param and tag keys seen in the loaded
 * runs as checkboxes, narrowed by a filter box. A disclosure, not a dialog: the table stays
 * usable beside it.
 */
import { useId, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { columnToken, type ColumnId, type ColumnKind } from '../api/tracking';

/** The keys seen in the loaded runs, by kind, sorted. */
export interface SeenKeys {
  metrics: string[];
  params: string[];
  tags: string[];
}

/** Props of RunsColumnChooser. */
export interface RunsColumnChooserProps {
  seen: SeenKeys;
  chosen: readonly ColumnId[];
  onChange(columns: ColumnId[]): void;
}

const GROUPS: Array<{ kind: Exclude<ColumnKind, 'attributes'>; label: string }> = [
  { kind: 'metrics', label: 'Metrics' },
  { kind: 'params', label: 'Params' },
  { kind: 'tags', label: 'Tags' },
];

/** Most checkboxes listed per group: the filter box finds the rest. */
const MAX_LISTED = 300;

/** The chooser: a "Columns" button opening the list. */
export function RunsColumnChooser({ seen, chosen, onChange }: RunsColumnChooserProps): ReactNode {
  const [open, setOpen] = useState(false);
  const [filter, setFilter] = useState('');
  const panelId = useId();
  const chosenTokens = useMemo(() => new Set(chosen.map(columnToken)), [chosen]);
  const needle = filter.trim().toLowerCase();
  const button = useRef<HTMLButtonElement>(null);
  const close = (): void => {
    setOpen(false);
    button.current?.focus();
  };
  const onKeyDown = (e: KeyboardEvent): void => {
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
    }
  };

  const toggle = (c: ColumnId): void => {
    const token = columnToken(c);
    onChange(chosenTokens.has(token) ? chosen.filter((x) => columnToken(x) !== token) : [...chosen, c]);
  };

  return (
    <div className="runs-columns">
      <button ref={button} type="button" aria-expanded={open} aria-controls={panelId} onClick={() => setOpen((o) => !o)}>
        Columns ({chosen.length})
      </button>
      {open ? (
        <div id={panelId} className="runs-columns-panel" role="group" aria-label="Choose columns" onKeyDown={onKeyDown}>
          <div className="toolbar">
            <label htmlFor={`${panelId}-filter`} className="visually-hidden">
              Filter column keys
            </label>
            <input id={`${panelId}-filter`} type="search" placeholder="Filter keys" value={filter} onChange={(e) => setFilter(e.target.value)} className="grow" />
            <button type="button" onClick={() => onChange([])} disabled={chosen.length === 0}>
              Clear all
            </button>
            <button type="button" onClick={close}>
              Done
            </button>
          </div>
          <div className="runs-columns-groups">
            {GROUPS.map(({ kind, label }) => {
              // Chosen keys stay listed even when no loaded run has them (a link may name them).
              const keys = new Set(seen[kind]);
              for (const c of chosen) if (c.kind === kind) keys.add(c.key);
              const all = [...keys].sort((a, b) => a.localeCompare(b)).filter((k) => !needle || k.toLowerCase().includes(needle));
              const listed = all.slice(0, MAX_LISTED);
              return (
                <fieldset key={kind}>
                  <legend>
                    {label} <span className="muted small">({all.length})</span>
                  </legend>
                  {listed.length === 0 ? <p className="muted small">{needle ? 'None match.' : 'None in the loaded runs.'}</p> : null}
                  <ul>
                    {listed.map((key) => {
                      const c: ColumnId = { kind, key };
                      return (
                        <li key={key}>
                          <label>
                            <input type="checkbox" checked={chosenTokens.has(columnToken(c))} onChange={() => toggle(c)} /> {key}
                          </label>
                        </li>
                      );
                    })}
                  </ul>
                  {all.length > listed.length ? <p className="muted small">{all.length - listed.length} more: narrow the filter to see them.</p> : null}
                </fieldset>
              );
            })}
          </div>
        </div>
      ) : null}
    </div>
  );
}

/**
 * A tablist whose selected tab is the `tab` query parameter (the first tab leaves it out),
 * with the WAI-ARIA keyboard pattern: arrows move between tabs, Home and End jump to the
 * ends. Each tab's panel is `<div role="tabpanel" id={`${idPrefix}-panel-${id}`}>`.
 */
import { useRef, type KeyboardEvent, type ReactNode } from 'react';
import { setQueryParams } from '../router';

/** One tab. */
export interface UrlTab {
  id: string;
  label: string;
}

/** Props of UrlTabs. */
export interface UrlTabsProps {
  tabs: readonly UrlTab[];
  current: string;
  /** The tablist's accessible name. */
  label: string;
  /** Prefix of the tab and panel ids (`run` → `run-tab-metrics`, `run-panel-metrics`). */
  idPrefix: string;
}

/** The tablist; switching tabs adds a history entry, so Back returns to the previous tab. */
export function UrlTabs({ tabs, current, label, idPrefix }: UrlTabsProps): ReactNode {
  const refs = useRef<Array<HTMLButtonElement | null>>([]);
  // Each tab's own settings stay in the URL; only the tab changes.
  const select = (id: string): void => setQueryParams({ tab: id === tabs[0]?.id ? undefined : id }, { replace: false });
  const onKey = (e: KeyboardEvent<HTMLButtonElement>, index: number): void => {
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    let next = step === 0 ? -1 : (index + step + tabs.length) % tabs.length;
    if (e.key === 'Home') next = 0;
    if (e.key === 'End') next = tabs.length - 1;
    const tab = tabs[next];
    if (!tab) return;
    e.preventDefault();
    select(tab.id);
    refs.current[next]?.focus();
  };
  return (
    <div role="tablist" aria-label={label} className="tabs">
      {tabs.map((t, i) => (
        <button
          key={t.id}
          ref={(el) => {
            refs.current[i] = el;
          }}
          type="button"
          role="tab"
          id={`${idPrefix}-tab-${t.id}`}
          aria-selected={current === t.id}
          aria-controls={`${idPrefix}-panel-${t.id}`}
          tabIndex={current === t.id ? 0 : -1}
          onClick={() => select(t.id)}
          onKeyDown={(e) => onKey(e, i)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

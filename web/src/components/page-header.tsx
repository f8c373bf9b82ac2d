/** The title of a page, its breadcrumbs and its actions; sets the document title too. */
import { useEffect, type ReactNode } from 'react';
import { Link } from '../router';

/** Props of PageHeader. */
export interface PageHeaderProps {
  title: string;
  crumbs?: Array<{ label: string; to: string }>;
  actions?: ReactNode;
  subtitle?: ReactNode;
}

/** Page heading (the page's one h1). */
export function PageHeader({ title, crumbs = [], actions, subtitle }: PageHeaderProps): ReactNode {
  useEffect(() => {
    document.title = `${title} · Slipway`;
  }, [title]);
  return (
    <header className="page-header">
      {crumbs.length > 0 ? (
        <nav aria-label="Breadcrumb" className="crumbs">
          {crumbs.map((c) => (
            <span key={c.to}>
              <Link to={c.to}>{c.label}</Link> /{' '}
            </span>
          ))}
        </nav>
      ) : null}
      <div className="page-title-row">
        <h1>{title}</h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </div>
      {subtitle ? <div className="page-subtitle">{subtitle}</div> : null}
    </header>
  );
}

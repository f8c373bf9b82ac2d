/**
 * The UI's pages by hash path, each loaded when first visited so the first page's
 * JavaScript stays small. Order matters: the first pattern that matches wins.
 */
import { lazy, type ComponentType, type LazyExoticComponent } from 'react';

/** A page component receives its path parameters. */
export type PageComponent = ComponentType<{ params: Record<string, string> }>;

/** One route. */
export interface RouteDef {
  pattern: string;
  page: LazyExoticComponent<PageComponent>;
}

const page = (load: () => Promise<{ default: PageComponent }>): LazyExoticComponent<PageComponent> => lazy(load);

/** Every page. */
export const ROUTES: RouteDef[] = [
  { pattern: '/experiments', page: page(() => import('./pages/experiments-page')) },
  { pattern: '/experiments/:experimentId', page: page(() => import('./pages/runs-page')) },
  { pattern: '/runs/:runId', page: page(() => import('./pages/run-page')) },
  { pattern: '/compare', page: page(() => import('./pages/compare-page')) },
  { pattern: '/models', page: page(() => import('./pages/models-page')) },
  { pattern: '/models/:name', page: page(() => import('./pages/model-page')) },
  { pattern: '/models/:name/versions/:version', page: page(() => import('./pages/model-version-page')) },
  { pattern: '/serving', page: page(() => import('./pages/serving-page')) },
  { pattern: '/releases', page: page(() => import('./pages/releases-page')) },
  { pattern: '/releases/:id', page: page(() => import('./pages/release-page')) },
  { pattern: '/loadtests', page: page(() => import('./pages/loadtests-page')) },
  { pattern: '/loadtests/:runId', page: page(() => import('./pages/loadtest-page')) },
  { pattern: '/monitoring', page: page(() => import('./pages/monitoring-page')) },
  { pattern: '/monitoring/:model', page: page(() => import('./pages/model-monitoring-page')) },
  { pattern: '/audit', page: page(() => import('./pages/audit-page')) },
  { pattern: '/login', page: page(() => import('./pages/login-page')) },
];

/** The main navigation: label and hash path. */
export const NAV: Array<{ label: string; to: string }> = [
  { label: 'Experiments', to: '/experiments' },
  { label: 'Models', to: '/models' },
  { label: 'Serving', to: '/serving' },
  { label: 'Releases', to: '/releases' },
  { label: 'Load tests', to: '/loadtests' },
  { label: 'Monitoring', to: '/monitoring' },
  { label: 'Audit', to: '/audit' },
];

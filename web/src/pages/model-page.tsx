/** Placeholder until the page is built. */
import type { ReactNode } from 'react';
import { PageHeader } from '../components/page-header';

/** The model page. */
export default function Page(): ReactNode {
  return <PageHeader title="model" />;
}

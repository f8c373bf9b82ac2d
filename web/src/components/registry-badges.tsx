/** Small pieces the registry pages share: version links with their stage, aliases with their target, stage badges. */
import type { ReactNode } from 'react';
import type { ModelVersion } from '../../../src/client/schemas/models.js';
import { Link, seg } from '../router';

/** The page of a version. */
export function versionPath(model: string, version: string): string {
  return `/models/${seg(model)}/versions/${seg(version)}`;
}

/** A legacy stage as a badge (None shows as a dash). */
export function StageBadge({ stage }: { stage: string }): ReactNode {
  if (stage === 'None' || stage === '') return <span className="muted">–</span>;
  const tone = stage === 'Production' ? 'ok' : stage === 'Staging' ? 'warn' : '';
  return <span className={`badge ${tone}`.trim()}>{stage}</span>;
}

/** A version's registration status as a badge. */
export function StatusBadge({ status }: { status: string }): ReactNode {
  const tone = status === 'READY' ? 'ok' : status === 'FAILED_REGISTRATION' ? 'bad' : 'warn';
  const label = status === 'READY' ? 'ready' : status === 'FAILED_REGISTRATION' ? 'failed' : status === 'PENDING_REGISTRATION' ? 'pending' : status.toLowerCase();
  return <span className={`badge ${tone}`}>{label}</span>;
}

/** Links to versions, each with its stage when it has one. */
export function VersionBadges({ model, versions }: { model: string; versions: ModelVersion[] }): ReactNode {
  if (versions.length === 0) return <span className="muted">no versions</span>;
  const sorted = [...versions].sort((a, b) => Number(b.version) - Number(a.version));
  return (
    <ul className="reg-inline-list">
      {sorted.map((v) => (
        <li key={v.version}>
          <Link to={versionPath(model, v.version)}>v{v.version}</Link>
          {v.currentStage !== 'None' ? <span className="muted"> ({v.currentStage})</span> : null}
        </li>
      ))}
    </ul>
  );
}

/** Aliases as `alias → vN` links. */
export function RegistryAliasList({ model, aliases }: { model: string; aliases: Array<{ alias: string; version: string }> }): ReactNode {
  if (aliases.length === 0) return <span className="muted">–</span>;
  return (
    <ul className="reg-inline-list">
      {aliases.map((a) => (
        <li key={a.alias}>
          <span className="reg-alias">@{a.alias}</span> → <Link to={versionPath(model, a.version)}>v{a.version}</Link>
        </li>
      ))}
    </ul>
  );
}

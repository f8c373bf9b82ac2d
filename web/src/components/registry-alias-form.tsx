/**
 * Moving and removing a model's aliases. Nothing is sent before the user confirms in a dialog
 * that names the alias, both versions and the model; a refusal (403, 409, 400) stays in the
 * dialog with the server's message until the user cancels.
 */
import { useId, useState, type ReactNode } from 'react';
import type { ModelVersion } from '../../../src/client/schemas/models.js';
import { useAliasChange } from '../api/registry';
import { ConfirmDialog } from './confirm-dialog';
import { ErrorMessage } from './states';
import { Link } from '../router';
import { StageBadge, versionPath } from './registry-badges';

/** What is waiting for confirmation. */
type Pending = { kind: 'move'; alias: string; from: string | undefined; to: string } | { kind: 'remove'; alias: string; from: string };

/** Props of RegistryAliases. */
export interface RegistryAliasesProps {
  model: string;
  aliases: Array<{ alias: string; version: string }>;
  versions: ModelVersion[];
}

/** The aliases table with a Remove button per alias, and the form that points an alias (existing or new) at a version. */
export function RegistryAliases({ model, aliases, versions }: RegistryAliasesProps): ReactNode {
  const change = useAliasChange(model);
  const [alias, setAlias] = useState('');
  const [version, setVersion] = useState('');
  const [pending, setPending] = useState<Pending | undefined>(undefined);
  const [done, setDone] = useState('');
  const listId = useId();
  const current = new Map(aliases.map((a) => [a.alias, a.version]));
  const name = alias.trim();
  const target = version || versions[0]?.version || '';
  const from = current.get(name);

  const open = (p: Pending): void => {
    change.reset();
    setDone('');
    setPending(p);
  };
  const cancel = (): void => {
    if (change.isPending) return;
    change.reset();
    setPending(undefined);
  };
  const confirm = (): void => {
    if (!pending) return;
    const p = pending;
    change.mutate(p.kind === 'move' ? { alias: p.alias, version: p.to } : { alias: p.alias }, {
      onSuccess: () => {
        setPending(undefined);
        setDone(p.kind === 'move' ? `Alias ${p.alias} now points at version ${p.to}.` : `Alias ${p.alias} was removed.`);
        if (p.kind === 'move') setAlias('');
      },
    });
  };

  let question = '';
  if (pending?.kind === 'move') question = pending.from === undefined ? `Create alias ${pending.alias} pointing at version ${pending.to} of ${model}?` : `Move alias ${pending.alias} from version ${pending.from} to version ${pending.to} of ${model}?`;
  if (pending?.kind === 'remove') question = `Remove alias ${pending.alias} (version ${pending.from}) from ${model}?`;

  return (
    <>
      {aliases.length === 0 ? (
        <p className="muted">No aliases yet. An alias such as champion names the version clients load with models:/{model}@champion.</p>
      ) : (
        <table className="data reg-aliases-table">
          <caption className="visually-hidden">Aliases of {model}</caption>
          <thead>
            <tr>
              <th scope="col">Alias</th>
              <th scope="col">Version</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {aliases.map((a) => (
              <tr key={a.alias}>
                <th scope="row" className="reg-alias">
                  @{a.alias}
                </th>
                <td>
                  <Link to={versionPath(model, a.version)}>v{a.version}</Link>
                </td>
                <td>
                  <button type="button" className="reg-small-button" onClick={() => open({ kind: 'remove', alias: a.alias, from: a.version })} aria-label={`Remove alias ${a.alias}`}>
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {versions.length > 0 ? (
        <form
          className="reg-alias-form"
          aria-label="Move or add an alias"
          onSubmit={(e) => {
            e.preventDefault();
            if (name !== '' && target !== '' && from !== target) open({ kind: 'move', alias: name, from, to: target });
          }}
        >
          <div className="field">
            <label htmlFor={`${listId}-alias`}>Alias</label>
            <input id={`${listId}-alias`} list={listId} value={alias} onChange={(e) => setAlias(e.target.value)} placeholder="e.g. champion" autoComplete="off" required maxLength={255} />
            <datalist id={listId}>
              {aliases.map((a) => (
                <option key={a.alias} value={a.alias} />
              ))}
            </datalist>
          </div>
          <div className="field">
            <label htmlFor={`${listId}-version`}>Version</label>
            <select id={`${listId}-version`} value={target} onChange={(e) => setVersion(e.target.value)}>
              {versions.map((v) => (
                <option key={v.version} value={v.version}>
                  {`Version ${v.version}${v.currentStage !== 'None' ? ` · ${v.currentStage}` : ''}${v.aliases.length > 0 ? ` · @${v.aliases.join(' @')}` : ''}${v.status !== 'READY' ? ` · ${v.status.toLowerCase()}` : ''}`}
                </option>
              ))}
            </select>
          </div>
          <div className="field reg-alias-form-action">
            <button type="submit" disabled={name === '' || target === '' || from === target}>
              {from === undefined ? 'Add alias…' : 'Move alias…'}
            </button>
          </div>
          <p className="muted small reg-alias-form-hint" aria-live="polite">
            {name === ''
              ? 'Type an existing alias to move it, or a new name to add one.'
              : from === undefined
                ? `${name} is a new alias.`
                : from === target
                  ? `${name} already points at version ${target}.`
                  : `${name} points at version ${from} now.`}
          </p>
        </form>
      ) : null}
      {done ? (
        <p className="reg-ok-note" role="status">
          {done}
        </p>
      ) : null}
      <ConfirmDialog
        open={pending !== undefined}
        title={pending?.kind === 'remove' ? 'Remove alias' : pending?.from === undefined ? 'Add alias' : 'Move alias'}
        confirmLabel={pending?.kind === 'remove' ? 'Remove alias' : pending?.from === undefined ? 'Add alias' : 'Move alias'}
        busy={change.isPending}
        onConfirm={confirm}
        onCancel={cancel}
      >
        <p>{question}</p>
        {pending?.kind === 'move' ? <AliasTargetNote versions={versions} version={pending.to} /> : null}
        {pending?.kind === 'remove' ? <p className="muted small">Clients loading models:/{model}@{pending.alias} will fail until the alias is set again.</p> : null}
        {change.error ? <ErrorMessage title={pending?.kind === 'remove' ? 'The alias was not removed' : 'The alias was not moved'} error={change.error} /> : null}
      </ConfirmDialog>
    </>
  );
}

function AliasTargetNote({ versions, version }: { versions: ModelVersion[]; version: string }): ReactNode {
  const v = versions.find((x) => x.version === version);
  if (!v) return null;
  return (
    <p className="muted small">
      Version {v.version} <StageBadge stage={v.currentStage} />
      {v.status === 'READY' ? '' : ` (${v.status.toLowerCase()})`}, registered from <code>{v.source}</code>. Clients that load the model by this alias get this version from their next load.
    </p>
  );
}

/**
 * `slipway deploy render kubernetes`: the manifests that run `slipway server` replicas on
 * Kubernetes, from flags and the `deploy:` section of `slipway.yaml` (flags win).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { DeployInput, KubernetesObject } from '../../deploy/index.js';
import { EXIT, addHelpEpilogue, processStreams, runAction, type OutputStreams } from '../output.js';

/** The flags of `render kubernetes`, as commander gives them (values checked by the deploy domain). */
export interface RenderFlags {
  config?: string;
  out?: string;
  name?: string;
  namespace?: string;
  image?: string;
  imagePullPolicy?: string;
  replicas?: string;
  port?: string;
  cpuRequest?: string;
  memoryRequest?: string;
  cpuLimit?: string;
  memoryLimit?: string;
  databaseSecret?: string;
  databaseSecretKey?: string;
  artifactsDestination?: string;
  s3Region?: string;
  s3Endpoint?: string;
  s3ForcePathStyle?: string;
  s3CredentialsSecret?: string;
  artifactCacheSize?: string;
  hpa?: boolean;
  hpaMin?: string;
  hpaMax?: string;
  hpaTargetCpu?: string;
  pdbMaxUnavailable?: string;
  shutdownTimeout?: string;
  preStopDelay?: string;
  logLevel?: string;
  auth?: boolean;
  adminSecret?: string;
  auditKeySecret?: string;
  serviceMonitorLabel?: Record<string, string>;
  metricsTokenSecret?: string;
  scrapeInterval?: string;
  prometheusRule?: boolean;
}

function labelOption(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`--service-monitor-label takes KEY=VALUE, such as release=kube-prometheus-stack; got '${value}'.`);
  return { ...(previous ?? {}), [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** The config file named by --config or SLIPWAY_CONFIG, else ./slipway.yaml when present. */
function configFileOf(flags: { config?: string }): string | undefined {
  const named = flags.config ?? process.env.SLIPWAY_CONFIG;
  if (named) return named;
  return existsSync(resolve('slipway.yaml')) ? 'slipway.yaml' : undefined;
}

function flagInput(flags: RenderFlags): DeployInput {
  const { config: _config, out: _out, serviceMonitorLabel, ...rest } = flags;
  return { ...rest, serviceMonitorLabels: serviceMonitorLabel };
}

/** Renders the manifests; writes one multi-document stream to stdout, or one file per object (and a kustomization.yaml) under --out. */
export async function renderKubernetesAction(flags: RenderFlags, io: OutputStreams = processStreams): Promise<number> {
  const { readFile, mkdir, readdir, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { stringify } = await import('yaml');
  const deploy = await import('../../deploy/index.js');
  const file = configFileOf(flags);
  const section = file ? deploy.parseDeploySection(await readFile(file, 'utf8'), file) : undefined;
  const options = deploy.mergeDeployOptions(section, flagInput(flags));
  const objects = deploy.renderKubernetes(options);
  const header = deploy.manifestHeader(options);
  if (!flags.out) {
    io.out(`${header}${deploy.toYamlDocuments(objects)}`);
    return EXIT.OK;
  }
  await mkdir(flags.out, { recursive: true });
  const names = objects.map((o: KubernetesObject) => deploy.manifestFileName(o));
  const stale = (await readdir(flags.out)).filter((f) => /^\d\d-[a-z]+\.yaml$/.test(f) && !names.includes(f));
  for (const [i, obj] of objects.entries()) await writeFile(join(flags.out, names[i] as string), `${header}${deploy.toYamlDocuments([obj])}`);
  await writeFile(join(flags.out, 'kustomization.yaml'), `${header}${stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: names })}`);
  io.out(`Wrote ${names.length} manifests and kustomization.yaml to ${flags.out}; apply with: kubectl apply -k ${flags.out}\n`);
  // A file of an earlier render (an autoscaler since turned off) would still be applied by `kubectl apply -f`.
  if (stale.length > 0) io.err(`warning: ${flags.out} also holds ${stale.join(', ')} from an earlier render; kustomization.yaml leaves them out, remove them before kubectl apply -f.\n`);
  return EXIT.OK;
}

/** Registers `slipway deploy`. */
export function register(program: Command): void {
  const deploy = program.command('deploy').description('Deploy as code: render the manifests that run Slipway server replicas');
  const render = deploy.command('render').description('Render deployment manifests');
  render
    .command('kubernetes')
    .description('Kubernetes manifests: Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget, ConfigMap, ServiceMonitor and PrometheusRule (Secrets are referenced, never rendered)')
    .option('--config <file>', 'config file whose deploy: section gives defaults (default: $SLIPWAY_CONFIG, else ./slipway.yaml when present)')
    .option('--out <dir>', 'write one file per object and a kustomization.yaml into this folder instead of stdout')
    .option('--name <name>', 'name of every object (default slipway)')
    .option('--namespace <ns>', 'namespace (default slipway)')
    .option('--image <ref>', 'container image (default slipway:0.1.0)')
    .option('--image-pull-policy <policy>', 'Always, IfNotPresent (default) or Never')
    .option('--replicas <n>', 'replicas; the autoscaler\'s minimum unless --hpa-min (default 2)')
    .option('--port <port>', 'port the server listens on and the Service exposes (default 5000)')
    .option('--cpu-request <cpu>', 'CPU request (default 500m)')
    .option('--memory-request <mem>', 'memory request (default 512Mi)')
    .option('--cpu-limit <cpu>', 'CPU limit (default none)')
    .option('--memory-limit <mem>', 'memory limit (default 1Gi)')
    .option('--database-secret <name>', 'Secret holding the PostgreSQL URI (default NAME-database)')
    .option('--database-secret-key <key>', 'key of the URI in that Secret (default uri)')
    .option('--artifacts-destination <url>', 'shared artifact store, s3://bucket/prefix (required)')
    .option('--s3-region <region>', 'AWS_REGION for the artifact store')
    .option('--s3-endpoint <url>', 'AWS_ENDPOINT_URL_S3, for an S3-compatible store')
    .option('--s3-force-path-style <bool>', 'AWS_S3_FORCE_PATH_STYLE: true or false (the S3 store picks path-style for a custom endpoint unless told)')
    .option('--artifact-cache-size <size>', 'local cache serving reads S3 models through, such as 10Gi; the home volume gets 1Gi more (default 10Gi)')
    .option('--s3-credentials-secret <name>', 'Secret whose keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) become environment variables')
    .option('--hpa', 'render the HorizontalPodAutoscaler (the default)')
    .option('--no-hpa', 'no autoscaler: the Deployment keeps --replicas')
    .option('--hpa-min <n>', 'autoscaler minimum (default --replicas)')
    .option('--hpa-max <n>', 'autoscaler maximum (default 10, or the minimum if larger)')
    .option('--hpa-target-cpu <percent>', 'average CPU utilisation the autoscaler aims at, percent of the request (default 70)')
    .option('--pdb-max-unavailable <n>', 'most pods a voluntary disruption may take at once (default 1)')
    .option('--shutdown-timeout <duration>', 'server drain and shutdown, whole seconds; the grace period adds the pre-stop delay and 5s (default 30s)')
    .option('--pre-stop-delay <duration>', 'pause before SIGTERM while endpoints stop routing to the pod (default 5s; 0s for none)')
    .option('--log-level <level>', 'server log level (default info)')
    .option('--auth', 'access control on, the first admin password from a Secret (the default)')
    .option('--no-auth', 'no access control (SLIPWAY_ALLOW_ANONYMOUS): only behind a gateway that authenticates')
    .option('--admin-secret <name>', 'Secret with key password: the first admin\'s password (default NAME-admin)')
    .option('--audit-key-secret <name>', 'Secret with the audit key every replica signs with (audit.key; retired keys as ID.key) (default NAME-audit)')
    .option('--service-monitor-label <key=value>', 'label the ServiceMonitor carries for Prometheus to select it (repeatable)', labelOption)
    .option('--metrics-token-secret <name>', 'Secret with key token: the bearer token Prometheus scrapes /metrics with (default NAME-metrics with access control on)')
    .option('--scrape-interval <duration>', 'Prometheus scrape interval (default 30s)')
    .option('--prometheus-rule', 'render the alerting rules as a PrometheusRule (the default)')
    .option('--no-prometheus-rule', 'leave the rules out (load deploy/prometheus/slipway-alerts.yml another way)')
    .action(runAction((flags: RenderFlags) => renderKubernetesAction(flags)));
  render
    .command('prometheus-rules')
    .description('The alerting rules as a Prometheus rules file (rule_files:), as deploy/prometheus/slipway-alerts.yml holds them')
    .action(
      runAction(async () => {
        const { renderAlertRulesFile } = await import('../../deploy/index.js');
        processStreams.out(renderAlertRulesFile());
      }),
    );
  addHelpEpilogue(deploy, {
    examples: [
      'slipway deploy render kubernetes --image registry.example.com/slipway:0.1.0 --artifacts-destination s3://ml-artifacts/slipway | kubectl apply -f -',
      'slipway deploy render kubernetes --config deploy/slipway.yaml --out k8s/ && kubectl apply -k k8s/',
      'slipway deploy render prometheus-rules > /etc/prometheus/rules/slipway.yml',
    ],
    exitCodes: { [EXIT.USAGE]: 'a bad option value or an unknown key in the deploy: section (the message names it)' },
    docs: ['deploy.md', 'cli.md'],
  });
}

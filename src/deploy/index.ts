/** Deploy as code: options of `slipway deploy render` and the Kubernetes manifests rendered from them. */
export { DEPLOY_KEYS, FLAG_NAMES, mergeDeployOptions, parseDeploySection, resolveDeployOptions, type DeployInput, type DeployKey, type DeployOptions, type OptionSource } from './deploy-options.js';
export {
  AUDIT_KEY_SCRIPT,
  AUDIT_SECRET_DIR,
  GRACE_MARGIN_SECONDS,
  HOME_DIR,
  HOME_HEADROOM_BYTES,
  LIVENESS_PATH,
  READINESS_PATH,
  RUN_AS_USER,
  configMapData,
  homeSizeLimit,
  manifestFileName,
  manifestHeader,
  renderKubernetes,
  terminationGraceSeconds,
  toYamlDocuments,
  type KubernetesObject,
} from './kubernetes-manifests.js';

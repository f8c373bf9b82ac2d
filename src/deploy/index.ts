/** Deploy as code: options of `slipway deploy render`, the Kubernetes manifests rendered from them, and the alerting rules. */
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
export { ALERT_RULE_GROUPS, prometheusRule, renderAlertRulesFile, type AlertRule, type AlertRuleGroup } from './alert-rules.js';

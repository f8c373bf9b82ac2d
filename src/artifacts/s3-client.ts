/**
 * The S3 client of the artifact store, and S3 failures in words that name the setting to correct.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SlipwayError } from '../core/errors.js';
import { DESTINATION_SETTING, type S3Location } from './s3-location.js';

/** Builds a client for `location`: the SDK's own credential chain, the endpoint and addressing style resolved from the environment. */
export function createS3Client(location: S3Location): S3Client {
  // The SDK warns on every process start that its releases after January 2027 need Node 22; Slipway supports Node 20
  // and pins a release that runs on it, so the warning only alarms operators. A value the operator set wins.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    ...(location.endpoint !== undefined ? { endpoint: location.endpoint } : {}),
    ...(location.region !== undefined ? { region: location.region } : {}),
    forcePathStyle: location.forcePathStyle,
    // An unreachable endpoint fails in seconds, not after the OS's connect timeout.
    requestHandler: { connectionTimeout: 5000, requestTimeout: 0 },
    maxAttempts: 3,
    // Checksums only where S3 requires them: S3-compatible servers often reject the newer default trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

const CREDENTIAL_ERRORS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'CredentialsProviderError', 'ExpiredToken', 'InvalidToken', 'AccessDenied', 'Forbidden', 'InvalidClientTokenId']);
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'TimeoutError']);

/**
 * An S3 failure in words that name the setting to correct. `atStart`: a check before the server listens, where
 * wrong credentials or a missing bucket are the operator's settings (INVALID_ARGUMENT, exit 2); while serving, the
 * same failure is the server's, not the caller's, and answers 503 (UNAVAILABLE) with the same words.
 */
export function s3Problem(err: unknown, location: S3Location, what: string, atStart = false): SlipwayError {
  const settingCode = atStart ? 'INVALID_ARGUMENT' : 'UNAVAILABLE';
  const e = err as { name?: string; code?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? '';
  const status = e?.$metadata?.httpStatusCode;
  const message = (e?.message ?? String(err)).split('\n')[0] ?? '';
  const endpoint = location.endpoint ? `${location.endpoint} (${location.endpointSetting})` : 'the AWS S3 endpoint (set AWS_ENDPOINT_URL_S3 for an S3-compatible server)';
  const where = `${location.uri} (${location.setting ?? DESTINATION_SETTING})`;
  if (name === 'NoSuchBucket' || (status === 404 && what === 'reach the bucket')) {
    return new SlipwayError(settingCode, `Cannot ${what}: the bucket '${location.bucket}' does not exist at ${endpoint}; create it or correct ${where}.`, { setting: location.setting ?? 'artifactsDestination' });
  }
  if (CREDENTIAL_ERRORS.has(name) || CREDENTIAL_ERRORS.has(e?.Code ?? '') || status === 403 || /credential/i.test(name) || /Could not load credentials/i.test(message)) {
    return new SlipwayError(
      settingCode,
      `Cannot ${what}: S3 refused the credentials for ${where} (${name || status}: ${message}); check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's permissions.`,
      { setting: 'AWS_ACCESS_KEY_ID' },
    );
  }
  if (/region/i.test(message) && /missing/i.test(message)) {
    return new SlipwayError(settingCode, `Cannot ${what}: no AWS region is set for ${where}; set AWS_REGION.`, { setting: 'AWS_REGION' });
  }
  if (NETWORK_ERRORS.has(e?.code ?? '') || NETWORK_ERRORS.has(name) || /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|socket hang up/.test(message)) {
    return new SlipwayError('UNAVAILABLE', `Cannot ${what}: the S3 endpoint ${endpoint} is unreachable for ${where}: ${message}`, { setting: location.endpointSetting ?? 'AWS_ENDPOINT_URL_S3' });
  }
  return new SlipwayError('UNAVAILABLE', `Cannot ${what} in ${location.uri}: ${name ? `${name}: ` : ''}${message}`);
}

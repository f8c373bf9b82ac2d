/**
 * `--artifacts-destination s3://bucket/prefix`: the bucket and key prefix, and the S3 settings the standard AWS
 * environment gives (endpoint, region, path-style addressing). Credentials are left to the AWS SDK's own chain
 * (AWS_ACCESS_KEY_ID…, AWS_PROFILE, ~/.aws/credentials, instance roles). No SDK import here: config resolution
 * stays cheap for commands that never touch S3.
 */
import { SlipwayError } from '../core/errors.js';

/** Where an S3 artifact store lives and how to reach it. */
export interface S3Location {
  /** The destination as given, without a trailing '/' (`s3://bucket/prefix`). */
  uri: string;
  bucket: string;
  /** Key prefix without leading or trailing '/'; `''` is the bucket's root. */
  prefix: string;
  /** A custom endpoint (an S3-compatible server) from AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL. */
  endpoint?: string;
  /** The environment variable that named the endpoint, for messages. */
  endpointSetting?: string;
  /** Region from AWS_REGION or AWS_DEFAULT_REGION; `us-east-1` when only a custom endpoint is set. */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`): AWS_S3_FORCE_PATH_STYLE when set, else on exactly when a custom endpoint is set. */
  forcePathStyle: boolean;
  /** The setting that named the location, for messages. @default DESTINATION_SETTING */
  setting?: string;
}

/** An S3 destination with its local checkout cache, as the resolved config carries it. */
export interface S3ArtifactSettings extends S3Location {
  /** Folder of the local checkout cache that serving reads. */
  cacheDir: string;
  /** Largest size of that cache in bytes. */
  cacheMaxBytes: number;
}

/** The setting that names the destination, for messages. */
export const DESTINATION_SETTING = '--artifacts-destination (SLIPWAY_ARTIFACTS_DESTINATION, server.artifactsDestination)';

// S3's bucket naming rules (lower case, digits, '.', '-'; 3 to 63; starting and ending with a letter or digit).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** True when a destination names an S3 bucket rather than a folder. */
export function isS3Destination(destination: string): boolean {
  return /^s3:\/\//i.test(destination.trim());
}

function bad(destination: string, why: string, setting: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', `'${destination}' is not a usable S3 location: ${why} (${setting}; expected s3://bucket/prefix).`, { setting });
}

/** Parses `s3://bucket[/prefix]` (named by `setting`, for messages) and reads the endpoint, region and addressing style from `env`. */
export function s3LocationOf(destination: string, env: NodeJS.ProcessEnv, setting: string = DESTINATION_SETTING): S3Location {
  const raw = destination.trim();
  const rest = raw.replace(/^s3:\/\//i, '');
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = (slash < 0 ? '' : rest.slice(slash + 1)).replace(/\/+$/, '');
  if (bucket === '') throw bad(raw, 'it names no bucket', setting);
  if (!BUCKET.test(bucket) || bucket.includes('..')) throw bad(raw, `'${bucket}' is not a valid bucket name (3 to 63 lower-case letters, digits, '.' and '-')`, setting);
  if (/[?#\\]/.test(rest)) throw bad(raw, "it contains '?', '#' or a backslash", setting);
  if (prefix.split('/').some((s, i, all) => (s === '' && all.length > 1) || s === '.' || s === '..')) throw bad(raw, "its prefix has an empty, '.' or '..' segment", setting);
  const endpointSetting = env.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : env.AWS_ENDPOINT_URL ? 'AWS_ENDPOINT_URL' : undefined;
  const endpoint = endpointSetting ? env[endpointSetting] : undefined;
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new SlipwayError('INVALID_ARGUMENT', `${endpointSetting} must be a URL such as http://127.0.0.1:9000, got '${endpoint}'.`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SlipwayError('INVALID_ARGUMENT', `${endpointSetting} must be an http:// or https:// URL, got '${endpoint}'.`);
  }
  const pathStyle = env.AWS_S3_FORCE_PATH_STYLE?.trim().toLowerCase();
  let forcePathStyle = endpoint !== undefined;
  if (pathStyle !== undefined && pathStyle !== '') {
    if (pathStyle === 'true' || pathStyle === '1') forcePathStyle = true;
    else if (pathStyle === 'false' || pathStyle === '0') forcePathStyle = false;
    else throw new SlipwayError('INVALID_ARGUMENT', `AWS_S3_FORCE_PATH_STYLE must be true or false, got '${env.AWS_S3_FORCE_PATH_STYLE}'.`);
  }
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint !== undefined ? 'us-east-1' : undefined);
  return {
    uri: `s3://${bucket}${prefix === '' ? '' : `/${prefix}`}`,
    bucket,
    prefix,
    ...(endpoint !== undefined ? { endpoint, endpointSetting } : {}),
    ...(region ? { region } : {}),
    forcePathStyle,
    ...(setting !== DESTINATION_SETTING ? { setting } : {}),
  };
}

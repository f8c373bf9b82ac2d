import { describe, expect, it } from 'vitest';
import { s3Problem } from './s3-client.js';
import { s3LocationOf } from './s3-location.js';

const location = s3LocationOf('s3://ml-artifacts/slipway', { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' });

describe('s3Problem', () => {
  it('names the setting: the operator\'s at start (exit 2), the server\'s while serving (503)', () => {
    const missing = { name: 'NoSuchBucket', message: 'The specified bucket does not exist', $metadata: { httpStatusCode: 404 } };
    const atStart = s3Problem(missing, location, 'reach the bucket', true);
    expect(atStart.code).toBe('INVALID_ARGUMENT');
    expect(atStart.message).toBe(
      "Cannot reach the bucket: the bucket 'ml-artifacts' does not exist at http://127.0.0.1:9000 (AWS_ENDPOINT_URL_S3); create it or correct s3://ml-artifacts/slipway (--artifacts-destination (SLIPWAY_ARTIFACTS_DESTINATION, server.artifactsDestination)).",
    );
    expect(s3Problem(missing, location, 'read', false).code).toBe('UNAVAILABLE');
    const denied = s3Problem({ name: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist', $metadata: { httpStatusCode: 403 } }, location, 'write', false);
    expect(denied.code).toBe('UNAVAILABLE');
    expect(denied.message).toContain('check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)');
  });

  it('says an unreachable endpoint is unreachable, naming the variable that set it', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9000'), { code: 'ECONNREFUSED' });
    const problem = s3Problem(err, location, 'reach the bucket', true);
    expect(problem.code).toBe('UNAVAILABLE');
    expect(problem.message).toContain('the S3 endpoint http://127.0.0.1:9000 (AWS_ENDPOINT_URL_S3) is unreachable');
    expect(s3Problem(new Error('We encountered an internal error'), location, 'read').message).toBe('Cannot read in s3://ml-artifacts/slipway: Error: We encountered an internal error');
  });
});

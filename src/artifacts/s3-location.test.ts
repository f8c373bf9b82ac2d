import { describe, expect, it } from 'vitest';
import { isS3Destination, s3LocationOf } from './s3-location.js';

describe('s3LocationOf', () => {
  it('reads bucket and prefix, and the AWS environment', () => {
    expect(isS3Destination('s3://b/x')).toBe(true);
    expect(isS3Destination('/srv/artifacts')).toBe(false);
    expect(s3LocationOf('s3://my-bucket/team/slipway/', {})).toEqual({ uri: 's3://my-bucket/team/slipway', bucket: 'my-bucket', prefix: 'team/slipway', forcePathStyle: false });
    expect(s3LocationOf('s3://my-bucket', { AWS_REGION: 'eu-west-1' })).toEqual({ uri: 's3://my-bucket', bucket: 'my-bucket', prefix: '', region: 'eu-west-1', forcePathStyle: false });
  });

  it('turns path-style addressing on with a custom endpoint, unless AWS_S3_FORCE_PATH_STYLE says otherwise', () => {
    const minio = s3LocationOf('s3://data/p', { AWS_ENDPOINT_URL: 'http://127.0.0.1:9000' });
    expect(minio).toMatchObject({ endpoint: 'http://127.0.0.1:9000', endpointSetting: 'AWS_ENDPOINT_URL', region: 'us-east-1', forcePathStyle: true });
    // The S3-specific variable wins over the general one, as in the AWS SDKs.
    expect(s3LocationOf('s3://data/p', { AWS_ENDPOINT_URL: 'http://a:1', AWS_ENDPOINT_URL_S3: 'http://b:2' })).toMatchObject({ endpoint: 'http://b:2', endpointSetting: 'AWS_ENDPOINT_URL_S3' });
    expect(s3LocationOf('s3://data/p', { AWS_ENDPOINT_URL_S3: 'https://s3.example.com', AWS_S3_FORCE_PATH_STYLE: 'false' }).forcePathStyle).toBe(false);
    expect(s3LocationOf('s3://data/p', { AWS_S3_FORCE_PATH_STYLE: 'true' }).forcePathStyle).toBe(true);
  });

  it('refuses malformed destinations and settings, naming them', () => {
    expect(() => s3LocationOf('s3://', {})).toThrow(/names no bucket.*--artifacts-destination/);
    expect(() => s3LocationOf('s3://Bad_Bucket/x', {})).toThrow(/'Bad_Bucket' is not a valid bucket name/);
    expect(() => s3LocationOf('s3://ab/x', {})).toThrow(/not a valid bucket name/);
    expect(() => s3LocationOf('s3://bucket/a//b', {})).toThrow(/empty, '\.' or '\.\.' segment/);
    expect(() => s3LocationOf('s3://bucket/a/../b', {})).toThrow(/segment/);
    expect(() => s3LocationOf('s3://bucket/a?x=1', {})).toThrow(/'\?'/);
    expect(() => s3LocationOf('s3://bucket/p', { AWS_ENDPOINT_URL_S3: 'not a url' })).toThrow(/AWS_ENDPOINT_URL_S3 must be a URL/);
    expect(() => s3LocationOf('s3://bucket/p', { AWS_ENDPOINT_URL_S3: 'ftp://x' })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => s3LocationOf('s3://bucket/p', { AWS_S3_FORCE_PATH_STYLE: 'maybe' })).toThrow(/AWS_S3_FORCE_PATH_STYLE must be true or false/);
  });
});

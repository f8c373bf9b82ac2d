import { describe, expect, it } from 'vitest';
import { redactUri } from './redact-uri.js';

describe('redactUri', () => {
  it('masks the password of URIs of any scheme, wherever they sit in a message', () => {
    expect(redactUri('mysql://u:S3cretPW@h/db')).toBe('mysql://u:***@h/db');
    expect(redactUri('postgresql://admin:pa:ss@db.example:5432/x')).toBe('postgresql://admin:***@db.example:5432/x');
    expect(redactUri("Unsupported 'mssql://sa:S3cretPW@h/db' and https://bot:tok3n@hooks.example/x")).toBe("Unsupported 'mssql://sa:***@h/db' and https://bot:***@hooks.example/x");
  });

  it('leaves URIs without a password as they are', () => {
    for (const uri of ['postgresql://postgres@127.0.0.1:5432/db', 'sqlite:///tmp/a:b@c.db', 'http://127.0.0.1:8080/x', 'file:///a/b']) expect(redactUri(uri)).toBe(uri);
  });
});

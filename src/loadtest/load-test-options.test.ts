import { describe, expect, it } from 'vitest';
import { planLoad, validateLoadTestOptions } from './load-test-options.js';
import { runLoadTest } from './load-test-runner.js';

const plan = (o: object): unknown => planLoad(validateLoadTestOptions({ target: 'http://127.0.0.1:1/', ...o }));

describe('load-test option messages for the HTTP API and library callers', () => {
  // These callers spell options by spec key, so messages name the key and no CLI flag.
  it.each([
    [{ duration: '1s' }, 'rate is required for the open model (or ramp with stages or steps; or give clients for the closed model).'],
    [{ clients: 2 }, 'duration is required for the closed model.'],
    [{ rate: 0, duration: '1s' }, 'rate must be greater than zero.'],
    [{ rate: 10, duration: 'forever' }, "duration must be a duration such as 250ms, 10s or 5m (units: us, ms, s, m, h); got 'forever'."],
    [{ stages: [{ target: 10, duration: 'soon' }] }, "stages[0].duration must be a duration such as 250ms, 10s or 5m (units: us, ms, s, m, h); got 'soon'."],
    [{ rate: 10, duration: '30' }, "duration must be a duration such as 250ms, 10s or 5m; got '30': add a unit, e.g. 30ms or 30s."],
    [{ rate: 10, stages: [{ target: 10, duration: '1s' }] }, 'Give only one of rate, stages or steps.'],
  ])('names the spec key for %j', (options, message) => {
    expect(() => plan(options)).toThrow(message);
    expect(() => plan(options)).not.toThrow('--');
  });

  it('asks for data rows by spec key', async () => {
    await expect(runLoadTest({ target: 'http://127.0.0.1:1/invocations', rate: 10, duration: '1s' })).rejects.toMatchObject({
      code: 'MISSING_ARGUMENT',
      message: "Protocol 'mlflow' needs data rows to build requests: give data (a CSV, JSON lines or Parquet file) or rows (inline rows).",
    });
  });

  it('takes serverAuthorization only as one header line, and never repeats it in the message', () => {
    expect(validateLoadTestOptions({ target: 'http://127.0.0.1:1/', serverAuthorization: 'Bearer abc' }).serverAuthorization).toBe('Bearer abc');
    for (const bad of ['Bearer abc\r\nx-admin: s3cret', 'Bearer s3cret\n', '']) {
      let message = '';
      try {
        validateLoadTestOptions({ target: 'http://127.0.0.1:1/', serverAuthorization: bad });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^Invalid load-test option 'serverAuthorization': must (be one line of printable ASCII|not be empty)/);
      expect(message).not.toContain('s3cret');
    }
  });
});

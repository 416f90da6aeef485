// The logger's second defence (src/logger.ts): whatever object reaches a log call, the written line holds
// no value of a field named like a secret, at any depth, in bindings or in a serialized error; and nothing
// else in the line changes.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, redactSecrets, SECRET_FIELDS } from '../src/logger';

function capture() {
  const lines: string[] = [];
  const log = createLogger('info', new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } }));
  return { log, lines };
}

test('every secret field is redacted at any depth and in any case: in bindings, nested objects, arrays and errors', () => {
  const { log, lines } = capture();
  const secrets = SECRET_FIELDS.map((field, i) => [field, `s3cr3t-${i}-${field}`] as const);
  const [first, second, third, fourth, ...rest] = secrets;
  assert.ok(first && second && third && fourth);
  const err = Object.assign(new Error('refused'), { headers: { [fourth[0].toUpperCase()]: fourth[1] } });
  log.child({ [first[0]]: first[1] }).info(
    {
      top: { deeper: { [second[0].toLowerCase()]: second[1] }, list: [{ [third[0]]: { value: third[1], arr: [1, '}'] } }] },
      ...Object.fromEntries(rest),
      err,
      after: 'kept',
    },
    'checked',
  );
  const line = lines.join('');
  for (const [, value] of secrets) assert.ok(!line.includes(value), `a secret was written: ${line}`);
  const parsed = JSON.parse(line) as Record<string, unknown>;
  assert.equal(parsed[first[0]], '[redacted]');
  assert.deepEqual(parsed.top, { deeper: { [second[0].toLowerCase()]: '[redacted]' }, list: [{ [third[0]]: '[redacted]' }] });
  assert.deepEqual((parsed.err as { headers: unknown }).headers, { [fourth[0].toUpperCase()]: '[redacted]' });
  assert.equal(parsed.after, 'kept');
  assert.equal(parsed.msg, 'checked');
});

test('a secret field name inside a string value, or as part of a longer name, is left alone', () => {
  const line = JSON.stringify({ note: 'send "APIKey":"x" in the query', myAPIKey: 'visible', apiKeyId: 3, n: 1 });
  assert.equal(redactSecrets(line), line);
  assert.equal(redactSecrets('{"a":1,"secretsKey":"q\\"uote","grantToken":12,"b":[null]}'), '{"a":1,"secretsKey":"[redacted]","grantToken":"[redacted]","b":[null]}');
});

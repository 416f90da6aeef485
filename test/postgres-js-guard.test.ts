// The guard against postgres.js' null-socket write (src/db/postgres-js-guard.ts) recognises exactly
// that error, so it never hides another crash.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPostgresJsNullSocketWrite } from '../src/db/postgres-js-guard';

function errorWithStack(message: string, stack: string, type: new (m: string) => Error = TypeError): Error {
  const err = new type(message);
  err.stack = `${type.name}: ${message}\n${stack}`;
  return err;
}

test('recognises postgres.js writing to a closed socket, and nothing else', () => {
  const driverStack = '    at Immediate.nextWrite (/app/node_modules/postgres/cjs/src/connection.js:255:22)\n    at process.processImmediate (node:internal/timers:483:21)';
  assert.equal(isPostgresJsNullSocketWrite(errorWithStack("Cannot read properties of null (reading 'write')", driverStack)), true);
  // Same message from our own code: not the driver bug.
  assert.equal(isPostgresJsNullSocketWrite(errorWithStack("Cannot read properties of null (reading 'write')", '    at nextWrite (/app/src/http/app.ts:10:1)')), false);
  // Another error in the driver: not swallowed.
  assert.equal(isPostgresJsNullSocketWrite(errorWithStack("Cannot read properties of undefined (reading 'replace')", driverStack)), false);
  assert.equal(isPostgresJsNullSocketWrite(errorWithStack("Cannot read properties of null (reading 'write')", driverStack, RangeError)), false);
  assert.equal(isPostgresJsNullSocketWrite('not an error'), false);
});

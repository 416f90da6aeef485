// The burst's load generator (bench/lib/webhook-load.ts) decides which webhooks count as acknowledged,
// and so which entities the bench then requires to be synced: every answer must be reported against the
// request it answers, also when the server answers out of order, and a request the server never answers
// must show as unanswered. Checked against a real HTTP server on a real socket.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { sendLoad } from '../bench/lib/webhook-load';

test('every answer is reported against its own request, in any order; a request never answered shows status 0', async (t) => {
  const app = Fastify();
  let cut = 0;
  app.post('/', async (request, reply) => {
    const { number } = request.body as { number: number };
    // Later answers overtake earlier ones, so sockets finish out of order.
    if (number % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    // One request's connection is cut without an answer (autocannon reconnects and goes on).
    if (number === 13 && cut++ === 0) {
      request.raw.socket.destroy();
      return reply;
    }
    return reply.code(number % 2 === 0 ? 202 : 503).send({ number });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const { port } = app.server.address() as { port: number };

  const requests = Array.from({ length: 300 }, (_, i) => ({ path: `/?n=${i}`, body: JSON.stringify({ number: i }), item: i }));
  const { ms, answers } = await sendLoad(`http://127.0.0.1:${port}`, requests, 40, 5000);

  assert.equal(answers.length, requests.length);
  for (const answer of answers) {
    if (answer.item === 13) {
      assert.equal(answer.status, 0, 'the request whose connection was cut has no answer');
      continue;
    }
    assert.equal(answer.status, answer.item % 2 === 0 ? 202 : 503, `status of request ${answer.item}`);
    assert.deepEqual(JSON.parse(answer.body), { number: answer.item }, `body of request ${answer.item}`);
    assert.ok(answer.answeredMs <= ms, 'no answer after the load ended');
  }
  assert.equal(answers.filter((a) => a.status === 0).length, 1);
});

test("the load's time is its last answer's when every request was answered", async (t) => {
  const app = Fastify();
  app.post('/', async (_request, reply) => reply.code(202).send({}));
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const { port } = app.server.address() as { port: number };
  const requests = Array.from({ length: 50 }, (_, i) => ({ path: '/', body: '{}', item: i }));
  const { ms, answers } = await sendLoad(`http://127.0.0.1:${port}`, requests, 10, 5000);
  assert.ok(answers.every((a) => a.status === 202));
  assert.equal(ms, Math.max(...answers.map((a) => a.answeredMs)));
});

// Walks every route of the API description (which tests/native/api.rs keeps equal
// to the router's table) and checks that no route needing a token answers
// without one, or with a wrong one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, TOKEN, TRACKING_TOKEN } from './worker.mjs';

let worker;
let spec;
before(async () => {
  worker = await startWorker();
  const res = await fetch(`${worker.base}/v1/openapi.json`);
  assert.equal(res.status, 200);
  spec = await res.json();
});
after(async () => { await worker?.stop(); });

const example = { project: 'authwalk', pool: 'p', layer: 'l', campaign: 'c' };
const operations = () => Object.entries(spec.paths).flatMap(([path, item]) =>
  Object.entries(item).filter(([m]) => ['get', 'put', 'post', 'delete', 'patch'].includes(m))
    .map(([method, op]) => ({
      method: method.toUpperCase(),
      url: worker.base + path.replace(/\{(\w+)\}/g, (_, k) => example[k]),
      schemes: op.security.flatMap((s) => Object.keys(s)),
    })));

test('the API description is served and is OpenAPI 3.1', () => {
  assert.equal(spec.openapi, '3.1.0');
  assert.ok(operations().length >= 10);
});

test('every route that needs a token refuses a missing or wrong one with 401', async () => {
  let walked = 0;
  for (const op of operations().filter((o) => o.schemes.length > 0)) {
    for (const authorization of [undefined, 'Bearer wrong-token', 'Basic abc', `Bearer ${TOKEN}x`]) {
      const headers = { 'content-type': 'application/json' };
      if (authorization) headers.authorization = authorization;
      const body = ['POST', 'PUT'].includes(op.method) ? '{}' : undefined;
      const res = await fetch(op.url, { method: op.method, headers, body });
      assert.equal(res.status, 401, `${op.method} ${op.url} with ${authorization}`);
      assert.equal((await res.json()).error.code, 'unauthorized');
    }
    if (!op.schemes.includes('tracking')) {
      const res = await fetch(op.url, { method: op.method, headers: { authorization: `Bearer ${TRACKING_TOKEN}` } });
      assert.equal(res.status, 401, `${op.method} ${op.url} with the tracking token`);
    }
    walked++;
  }
  assert.ok(walked >= 10, `walked ${walked} routes`);
  // None of the refused calls created anything.
  const pools = await fetch(`${worker.base}/v1/projects/authwalk/pools`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.deepEqual(await pools.json(), { pools: [] });
});

test('public routes need no token', async () => {
  for (const op of operations().filter((o) => o.schemes.length === 0)) {
    const res = await fetch(op.url, { method: op.method });
    assert.notEqual(res.status, 401, `${op.method} ${op.url}`);
  }
});

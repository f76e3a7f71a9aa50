// How the Worker reaches its Durable Objects: over RPC (worker/src/rpc.rs),
// and still over fetch with the JSON of a command, as Workers before RPC
// did, so that a deploy does not fail the calls of the isolates it replaces.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, createProject } from './worker.mjs';

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

test('a Worker from before RPC still reaches the store and the registry over fetch', async () => {
  const api = await createProject(worker.base, 'old');
  assert.equal((await api.putPool('p')).status, 200);
  assert.equal((await api.importJson('p', ['OLD-1', 'OLD-2'])).status, 200);

  const projects = await worker.mf.getDurableObjectNamespace('PROJECTS');
  const store = projects.get(projects.idFromName('old'));
  const call = (command) => store.fetch('https://project.store/', { method: 'POST', body: JSON.stringify({ key: null, command }) });
  const res = await call({ op: 'get_pool', pool: 'p' });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).available, 2);
  const refused = await call({ op: 'get_pool', pool: 'nope' });
  assert.equal(refused.status, 404);
  assert.equal((await refused.json()).code, 'unknown_pool');

  const registries = await worker.mf.getDurableObjectNamespace('REGISTRY');
  const registry = registries.get(registries.idFromName('projects'));
  const found = await registry.fetch('https://registry/', { method: 'POST', body: JSON.stringify({ op: 'lookup', project: 'old' }) });
  assert.equal(found.status, 200);
  assert.equal((await found.json()).name, 'old');
});

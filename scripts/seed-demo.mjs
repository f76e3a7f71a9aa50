// Seeds the demo project: pool `welcome10` with 500 demo codes and an active
// layer `welcome`. Idempotent: running it again imports nothing new.
const [base, token] = process.argv.slice(2);
const api = `${base}/v1/projects/demo`;
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

async function call(method, path, body) {
  const res = await fetch(api + path, { method, headers, body: JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

await call('PUT', '/pools/welcome10', { description: '10% off your first order (demo codes)' });
const codes = Array.from({ length: 500 }, (_, i) => `WELCOME-${String(i + 1).padStart(4, '0')}`);
const report = await call('POST', '/pools/welcome10/import', { codes });
await call('PUT', '/layers/welcome', {
  active: true,
  template: `<div class="codepool-layer" role="dialog" aria-label="Welcome offer">
  <h2>Welcome{% if customer.id %}, {{ customer.id }}{% endif %}!</h2>
  <p>Here is 10% off your first order:</p>
  <p class="codepool-code">{{ vouchers['welcome10'].assign_available_code() }}</p>
  <p class="codepool-left">{{ vouchers['welcome10'].count_available_codes() }} of {{ vouchers['welcome10'].count_total_codes() }} codes left</p>
  <button type="button" data-codepool-close>Close</button>
</div>`,
});
const pool = await call('GET', '/pools/welcome10');
console.log(`Demo project seeded: pool welcome10 imported ${report.imported} new codes, ` +
  `${pool.available} of ${pool.total} available; layer welcome is active.`);

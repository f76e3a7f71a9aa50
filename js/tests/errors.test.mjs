// Errors from the package: what a caller can catch and act on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, Template } from '../../pkg/index.js';

test('a syntax error throws an Error with code, line and column', () => {
  assert.throws(
    () => compile('line one\n  {% if %}x{% endif %}'),
    (err) => {
      assert.ok(err instanceof Error);
      assert.equal(err.code, 'template_syntax_error');
      assert.equal(err.line, 2);
      assert.equal(typeof err.column, 'number');
      assert.ok(err.column >= 3, `column ${err.column}`);
      assert.match(err.message, /^line 2, column \d+: syntax error/);
      return true;
    },
  );
});

test('an error while rendering names its line', () => {
  const t = compile("ok\n{{ vouchers['p'].give_me_a_code() }}");
  assert.throws(
    () => t.render({}, { p: { codes: ['A'] } }),
    (err) => err.code === 'template_error' && err.line === 2 && /assign_available_code/.test(err.message),
  );
});

test('reading a count that was not supplied is an error, not a made-up number', () => {
  const t = compile("{{ vouchers['p'].count_available_codes() }}");
  assert.throws(
    () => t.render({}, { p: { codes: ['A'] } }),
    (err) => err.code === 'missing_count' && err.line === 1 && /available/.test(err.message),
  );
  assert.throws(() => t.render({}, () => 'A'), (err) => err.code === 'missing_count');
});

test('unusable vouchers are reported as such', () => {
  const t = compile("{{ vouchers['p'].assign_available_code() }}");
  assert.throws(() => t.render({}, { p: { codes: 'A' } }), (err) => err.code === 'invalid_vouchers');
  assert.throws(() => t.render({}, { p: { codes: [42] } }), (err) => err.code === 'invalid_vouchers');
  assert.throws(() => t.render({}, { p: { codes: [''] } }), (err) => err.code === 'invalid_vouchers');
  const count = compile("{{ vouchers['p'].count_total_codes() }}");
  assert.throws(() => count.render({}, { p: { total: -1 } }), (err) => err.code === 'invalid_vouchers');
});

test('a context that is not an object is refused', () => {
  assert.throws(() => compile('x').render([1, 2]), (err) => err.code === 'invalid_context');
  assert.throws(() => compile('x').render('text'), (err) => err.code === 'invalid_context');
});

test("an exception from the caller's callback reaches the caller unchanged", () => {
  const t = compile("{{ vouchers['p'].assign_available_code() }}");
  const mine = new RangeError('store offline');
  assert.throws(() => t.render({}, () => { throw mine; }), (err) => err === mine);
  // The module is still usable afterwards.
  assert.equal(t.render({}, { p: { codes: ['A'] } }), 'A');
});

test('rendering from inside a voucher callback is refused, not corrupting', () => {
  const t = compile("{{ vouchers['p'].assign_available_code() }}");
  let inner;
  const out = t.render({}, () => {
    try {
      t.render({}, () => 'X');
    } catch (err) {
      inner = err;
    }
    return 'A';
  });
  assert.equal(out, 'A');
  assert.equal(inner?.code, 'reentrant_render');
  assert.equal(t.render({}, { p: { codes: ['B'] } }), 'B');
});

test('an endless loop runs out of fuel', () => {
  const t = compile('{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}');
  assert.throws(() => t.render({}), (err) => err.code === 'template_too_slow');
});

test('the source must be a string', () => {
  assert.throws(() => new Template(42), TypeError);
});

test('an invalid pool name is a template error that says what a name may hold', () => {
  const t = compile("{{ vouchers['spring 10'].assign_available_code() }}");
  assert.throws(
    () => t.render({}, { 'spring 10': { codes: ['A'] } }),
    (err) => err.code === 'template_error' && err.line === 1 && /letters, digits/.test(err.message),
  );
});

test('rendering from a getter of the context is refused, and the outer render goes on', () => {
  const t = compile('{{ a }}{{ b }}');
  let inner;
  const context = {
    a: 'A',
    get b() {
      try {
        t.render({ a: 'x', b: 'y' });
      } catch (err) {
        inner = err;
      }
      return 'B';
    },
  };
  assert.equal(t.render(context), 'AB');
  assert.equal(inner?.code, 'reentrant_render');
});

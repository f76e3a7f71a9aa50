/* codepool loader: shows a web layer from the edge. No dependencies.
 *
 * <script async src="https://EDGE/loader.js" data-project="demo"
 *   data-layer="welcome" data-customer="ada"></script>
 *
 * Optional: data-sig="..." and data-exp="..." (the customer id's signature
 * and the Unix second it is good until, for layers that require signed
 * ids: computed by the site's back end, see README),
 * data-target="#offer" (a CSS selector: show the layer inside that
 * element instead of as an overlay), data-params="lang=en&page=home" (more
 * query parameters, `params` in the template), data-api="https://EDGE" (where
 * the API is; default: where this script came from).
 *
 * 200: the layer is shown. 204 (pool empty, layer paused): nothing is shown.
 * Any failure is logged with console.debug and shows nothing; it never throws
 * into the host page. The script tag's data-state ends as shown, empty or
 * failed, then closed when the visitor closes the layer.
 */
(function () {
  var script = document.currentScript;
  if (!script) return;
  var data = script.dataset;
  var state = function (s) { data.state = s; };
  var fail = function (e) {
    state('failed');
    console.debug('codepool: no layer', e);
  };

  // The layer lives in a shadow root: its HTML and styles cannot leak into
  // the host page, and the page's selectors cannot restyle it by accident.
  var CSS =
    ':host{display:block}' +
    '.box{position:relative;font:16px/1.5 system-ui,sans-serif;color:#1d2433;' +
    'background:#fff;border-radius:12px;padding:1.25rem 1.5rem}' +
    '.inline{border:1px solid #d5dae3}' +
    'dialog{border:0;padding:0;border-radius:12px;max-width:min(30rem,calc(100% - 2rem));' +
    'box-shadow:0 12px 40px rgba(0,0,0,.3)}' +
    'dialog::backdrop{background:rgba(20,24,40,.5)}' +
    '.x{position:absolute;top:.4rem;right:.5rem;border:0;background:none;' +
    'font:1.5rem/1 sans-serif;color:#555;cursor:pointer;padding:.25rem .5rem}' +
    '.codepool-code{font:700 1.5rem/1.2 ui-monospace,monospace;letter-spacing:.05em}' +
    'button,a{font:inherit}';

  function show(html, target) {
    var host = document.createElement('div');
    var root = host.attachShadow({ mode: 'open' });
    var style = document.createElement('style');
    style.textContent = CSS;
    var box = document.createElement('div');
    box.className = 'box';
    // Served by the project's own edge from its own template (autoescaped).
    box.innerHTML = html;
    var closers = box.querySelectorAll('[data-codepool-close]');
    if (!closers.length) {
      var x = document.createElement('button');
      x.type = 'button';
      x.className = 'x';
      x.setAttribute('aria-label', 'Close');
      x.textContent = '\u00d7';
      box.appendChild(x);
      closers = [x];
    }
    var heading = box.querySelector('h1,h2,h3');
    var label = (heading && heading.textContent.trim()) || 'Offer';
    var frame = box;
    if (!target) {
      // A modal <dialog>: the browser moves focus in, keeps it there, closes
      // on Escape and gives focus back when it closes.
      frame = document.createElement('dialog');
      frame.appendChild(box);
      frame.addEventListener('click', function (e) {
        if (e.target === frame) close();
      });
      frame.addEventListener('close', function () { close(); });
    } else {
      box.className += ' inline';
      box.setAttribute('role', 'region');
    }
    frame.setAttribute('aria-label', label);
    root.append(style, frame);
    (target || document.body).appendChild(host);
    if (!target) frame.showModal();
    for (var i = 0; i < closers.length; i++) closers[i].addEventListener('click', close);
    state('shown');

    function close() {
      if (!host.isConnected) return;
      if (frame.open) frame.close();
      host.remove();
      state('closed');
    }
  }

  try {
    var q = new URLSearchParams(data.params || '');
    if (data.customer) q.set('customer_id', data.customer);
    if (data.sig) q.set('sig', data.sig);
    if (data.exp) q.set('exp', data.exp);
    var api = data.api || new URL(script.src, location.href).origin;
    var url = api + '/v1/projects/' + encodeURIComponent(data.project) +
      '/layers/' + encodeURIComponent(data.layer) + '/render?' + q;
    var ready = new Promise(function (resolve) {
      if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', resolve);
      } else {
        resolve();
      }
    });
    fetch(url, { credentials: 'omit' })
      .then(function (res) {
        if (res.status === 204) return state('empty');
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.text().then(function (html) {
          return ready.then(function () {
            var target = data.target && document.querySelector(data.target);
            if (data.target && !target) throw new Error('no element ' + data.target);
            show(html, target);
          });
        });
      })
      .catch(fail);
  } catch (e) {
    fail(e);
  }
})();

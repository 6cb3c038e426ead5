/*
 * The sandbox's Klarna Payments widget, framed by the merchant's page through
 * klarna-api.js. It accepts messages only from its parent window at the origin
 * the SDK named (and the server allowed in frame-ancestors), and posts only to
 * that origin. It calls its own server with the session's client token.
 */
(function () {
  'use strict';
  var TAG = 'klarna-payments-sandbox';
  var body = document.body;
  var sessionId = body.dataset.session;
  var parentOrigin = body.dataset.parent;
  function $(id) { return document.getElementById(id); }

  var clientToken = null;
  var category = null; // the payment_method_category load() named; authorize() may name another
  var state = null; // from /state: mode, amount, given_name, link_offered
  var pending = null; // the authorize() or finalize() being answered
  var persona = null; // who logged in
  var approval = null; // { persona, link } kept for finalize() after auto_finalize: false
  var declined = false;
  var focusTarget = null; // the control the open step wants focused

  function focusStep(el) {
    focusTarget = el;
    if (el) el.focus();
  }
  // The SDK focuses this frame when the dialog opens (a frame cannot take
  // the focus from its parent itself); put it on the step's control then.
  window.addEventListener('focus', function () {
    if (!$('kp-dialog').hidden && focusTarget && document.activeElement !== focusTarget) focusTarget.focus();
  });

  function send(msg) {
    msg.source = TAG;
    window.parent.postMessage(msg, parentOrigin);
  }

  function api(path, extra) {
    var b = { client_token: clientToken, parent: parentOrigin, category: category };
    Object.keys(extra || {}).forEach(function (k) { b[k] = extra[k]; });
    return fetch('/klarna/payments/widget/' + encodeURIComponent(sessionId) + '/' + path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(b), credentials: 'omit',
    }).then(function (r) { return r.json(); });
  }

  function resize() { send({ type: 'resize', height: $('kp-inline').offsetHeight + 2 }); }

  function showError(text) {
    var e = $('kp-error');
    e.textContent = text;
    e.hidden = !text;
  }

  function onLoad(m) {
    clientToken = m.client_token;
    category = m.category;
    api('state').then(function (s) {
      if (s.error) {
        $('kp-inline-status').textContent = s.message;
        resize();
        send({ type: 'loaded', show_form: false, error: { invalid_fields: [] } });
        return;
      }
      state = s;
      showCategory(s.category_name);
      $('kp-inline-status').textContent = s.mode === 'ready'
        ? 'Welcome back, ' + s.given_name + '. Klarna is ready: no login needed.'
        : 'You will log in to Klarna when you place the order.';
      resize();
      send({ type: 'loaded', show_form: true });
    }, function () {
      $('kp-inline-status').textContent = 'Klarna could not be reached.';
      resize();
      send({ type: 'loaded', show_form: false, error: { invalid_fields: [] } });
    });
  }

  function showCategory(name) {
    $('kp-category').textContent = name;
    $('kp-title').textContent = name;
    $('kp-approve-category').textContent = name + '.';
  }

  function openDialog() {
    $('kp-dialog').hidden = false;
    body.classList.add('kp-open');
    send({ type: 'dialog', open: true });
  }

  function finish(result) {
    $('kp-dialog').hidden = true;
    body.classList.remove('kp-open');
    pending = null;
    focusTarget = null;
    send({ type: 'authorized', result: result });
  }

  function showLogin() {
    $('kp-login').hidden = false;
    $('kp-approve').hidden = true;
    focusStep(document.querySelector('input[name=persona]:checked'));
  }

  function showApprove(name, recognised) {
    $('kp-login').hidden = true;
    $('kp-approve').hidden = false;
    $('kp-welcome').textContent = recognised
      ? 'Welcome back, ' + name + '. This shop recognised your Klarna account.'
      : 'Hi ' + name + ', confirm your purchase.';
    $('kp-link-row').hidden = !state.link_offered;
    $('kp-buy').textContent = 'Buy for ' + state.amount;
    $('kp-buy').disabled = false;
    focusStep($('kp-buy'));
  }

  function onAuthorize(m) {
    if (!state) {
      send({ type: 'authorized', result: { approved: false, show_form: false, error: { invalid_fields: [] } } });
      return;
    }
    pending = m;
    declined = false;
    if (m.category && m.category !== category) {
      // authorize() named another category than load(): approve that one.
      category = m.category;
      api('state').then(function (s) {
        if (s.error) {
          send({ type: 'authorized', result: { approved: false, show_form: false, error: { invalid_fields: ['payment_method_category'] } } });
          return;
        }
        state = s;
        showCategory(s.category_name);
        onAuthorize(m);
      }, function () {
        send({ type: 'authorized', result: { approved: false, show_form: false, error: { invalid_fields: [] } } });
      });
      return;
    }
    if (m.finalize && approval) {
      complete(approval.persona, approval.link);
      return;
    }
    showError('');
    $('kp-amount').textContent = state.amount;
    if (state.mode === 'ready') showApprove(state.given_name, true);
    else showLogin();
    openDialog();
  }

  function complete(who, link) {
    $('kp-buy').disabled = true;
    api('authorize', { persona: who, link_account: link }).then(function (r) {
      if (r.approved) {
        approval = null;
        finish({ approved: true, show_form: true, authorization_token: r.authorization_token, finalize_required: false });
        return;
      }
      if (r.error === 'declined') declined = true;
      if ($('kp-dialog').hidden) openDialog();
      showError(r.message || 'Klarna could not approve this purchase.');
    }, function () {
      $('kp-buy').disabled = false;
      showError('Klarna could not be reached. Try again.');
    });
  }

  $('kp-login').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var chosen = document.querySelector('input[name=persona]:checked');
    if (!chosen) return;
    persona = chosen.value;
    showApprove(chosen.dataset.name.split(' ')[0], false);
  });

  $('kp-approve').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var link = state.link_offered && $('kp-link').checked;
    if (pending && !pending.finalize && pending.options && pending.options.auto_finalize === false) {
      approval = { persona: persona, link: link };
      finish({ approved: true, show_form: true, finalize_required: true });
      return;
    }
    complete(persona, link);
  });

  function close() {
    if (!pending) return;
    finish(declined ? { approved: false, show_form: false } : { approved: false, show_form: true });
  }
  $('kp-close').addEventListener('click', close);
  document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') close(); });

  window.addEventListener('message', function (ev) {
    if (ev.source !== window.parent || ev.origin !== parentOrigin) return;
    var m = ev.data;
    if (!m || m.source !== TAG) return;
    if (m.type === 'load') onLoad(m);
    else if (m.type === 'authorize') onAuthorize(m);
  });

  send({ type: 'ready' });
})();

/*
 * Klarna Payments JS SDK, as the refshop sandbox serves it at
 * /klarna/cdn/kp/lib/v1/api.js. Same surface as Klarna's
 * https://x.klarnacdn.net/kp/lib/v1/api.js, so a page written against this one
 * works against the real one:
 *
 *   Klarna.Payments.init({ client_token })
 *   Klarna.Payments.load({ container, payment_method_category }, data?, callback)
 *       callback({ show_form, error? })
 *   Klarna.Payments.authorize({ payment_method_category, auto_finalize? }, data?, callback)
 *       callback({ approved, show_form, authorization_token?, finalize_required?, error? })
 *   Klarna.Payments.finalize(options, data?, callback)   (after finalize_required)
 *
 * Errors thrown, named as Klarna names them: InvalidClientTokenError,
 * ApplicationNotInitializedError, InvalidContainerSelectorError,
 * PaymentMethodCategoryNotProvidedError, and
 * PaymentMethodCategoryNotSupportedError when load() or authorize() names a
 * payment_method_category the session does not offer (the callback is called
 * first: load with { show_form: false }, authorize with { approved: false,
 * show_form: false }). Use the identifiers of the session's
 * payment_method_categories. window.klarnaAsyncCallback runs once the SDK is
 * ready.
 *
 * The widget is a page of the SDK's own origin in an iframe; the two talk by
 * postMessage and each checks the other's origin and window.
 */
(function () {
  'use strict';
  var script = document.currentScript;
  var sdkOrigin = new URL(script ? script.src : location.href).origin;
  var TAG = 'klarna-payments-sandbox';

  function KlarnaError(name, message) {
    var e = new Error(message);
    e.name = name;
    return e;
  }

  var app = null; // { clientToken, sessionId, categories } after init
  var instances = {}; // by instance_id ('' for the default instance)

  // A client token is a JWT whose payload names the session.
  function decodeClientToken(t) {
    if (typeof t !== 'string') return null;
    var parts = t.split('.');
    if (parts.length !== 3) return null;
    try {
      var b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
      var claims = JSON.parse(atob(b64 + '==='.slice((b64.length + 3) % 4)));
      return claims && typeof claims.session_id === 'string' ? claims : null;
    } catch (e) {
      return null;
    }
  }

  function removeInstance(inst) {
    if (inst && inst.iframe.parentNode) inst.iframe.parentNode.removeChild(inst.iframe);
  }

  function init(options) {
    var claims = decodeClientToken(options && options.client_token);
    if (!claims) {
      throw KlarnaError('InvalidClientTokenError', 'client_token must be the client_token of a Klarna payment session');
    }
    Object.keys(instances).forEach(function (k) { removeInstance(instances[k]); });
    instances = {};
    app = {
      clientToken: options.client_token, sessionId: claims.session_id,
      categories: Array.isArray(claims.payment_method_categories) ? claims.payment_method_categories : null,
    };
  }

  function offered(category) {
    return !app.categories || app.categories.indexOf(category) >= 0;
  }

  function notSupported(category) {
    return KlarnaError('PaymentMethodCategoryNotSupportedError',
      'payment_method_category "' + category + '" is not offered by this session' +
      (app.categories ? ' (it offers ' + app.categories.join(', ') + ')' : ''));
  }

  // The category authorize() names: payment_method_category, or the first of
  // payment_method_categories (identifiers, or the session's category objects).
  function categoryOf(options) {
    if (options.payment_method_category) return options.payment_method_category;
    var list = options.payment_method_categories;
    if (Array.isArray(list) && list.length) return typeof list[0] === 'string' ? list[0] : list[0] && list[0].identifier;
    return null;
  }

  // (options, [data], [callback]) as the real SDK accepts them.
  function args(data, callback) {
    if (typeof data === 'function') return { data: {}, cb: data };
    return { data: data || {}, cb: typeof callback === 'function' ? callback : function () {} };
  }

  function post(inst, msg) {
    msg.source = TAG;
    if (!inst.ready) {
      inst.queue.push(msg);
      return;
    }
    inst.iframe.contentWindow.postMessage(msg, sdkOrigin);
  }

  function requireInit() {
    if (!app) throw KlarnaError('ApplicationNotInitializedError', 'Call Klarna.Payments.init({ client_token }) first');
  }

  function load(options, data, callback) {
    requireInit();
    options = options || {};
    var a = args(data, callback);
    var container = typeof options.container === 'string' ? document.querySelector(options.container) : options.container;
    if (!container || typeof container.appendChild !== 'function') {
      throw KlarnaError('InvalidContainerSelectorError', 'container must be a CSS selector or an element on the page');
    }
    var category = categoryOf(options);
    if (!category) {
      throw KlarnaError('PaymentMethodCategoryNotProvidedError', 'payment_method_category is required');
    }
    if (!offered(category)) {
      a.cb({ show_form: false });
      throw notSupported(category);
    }
    var id = options.instance_id || '';
    removeInstance(instances[id]);

    var iframe = document.createElement('iframe');
    iframe.title = 'Klarna';
    iframe.name = 'klarna-payments-' + (id || 'main');
    iframe.src = sdkOrigin + '/klarna/payments/widget/' + encodeURIComponent(app.sessionId) +
      '?parent=' + encodeURIComponent(location.origin) + '&category=' + encodeURIComponent(category);
    var s = iframe.style;
    s.border = '0';
    s.width = '100%';
    s.height = '88px';
    s.display = 'block';
    s.colorScheme = 'normal';
    while (container.firstChild) container.removeChild(container.firstChild);
    container.appendChild(iframe);

    var inst = {
      iframe: iframe, ready: false, queue: [], loaded: false, inlineHeight: 88, loadCb: a.cb, authCb: null, category: category,
    };
    instances[id] = inst;
    post(inst, { type: 'load', client_token: app.clientToken, category: category, data: a.data });
  }

  function authorize(options, data, callback, finalize) {
    requireInit();
    options = options || {};
    var a = args(data, callback);
    var inst = instances[options.instance_id || ''];
    var category = categoryOf(options) || (inst && inst.category);
    if (category && !offered(category)) {
      a.cb({ approved: false, show_form: false });
      throw notSupported(category);
    }
    if (!inst || !inst.loaded) {
      a.cb({ approved: false, show_form: false, error: { invalid_fields: [] } });
      return;
    }
    inst.authCb = a.cb;
    inst.returnFocus = document.activeElement; // where the customer was when they chose to pay
    post(inst, {
      type: 'authorize', finalize: !!finalize, data: a.data, category: category,
      options: { auto_finalize: options.auto_finalize !== false },
    });
  }

  // setDialog turns the widget's frame into a full-window dialog and back.
  // The container keeps its height meanwhile (no jump in the page), and the
  // focus moves into the dialog (restoreFocus brings it back).
  function setDialog(inst, open) {
    var s = inst.iframe.style;
    var container = inst.iframe.parentNode;
    if (open === !!inst.dialog) return;
    if (container) container.style.minHeight = open ? inst.inlineHeight + 'px' : '';
    if (open) {
      s.position = 'fixed';
      s.top = '0';
      s.left = '0';
      s.width = '100vw';
      s.height = '100vh';
      s.zIndex = '2147483647';
      inst.iframe.focus();
    } else {
      s.position = '';
      s.top = '';
      s.left = '';
      s.width = '100%';
      s.height = inst.inlineHeight + 'px';
      s.zIndex = '';
    }
    inst.dialog = open;
  }

  // restoreFocus runs after the merchant's callback, which may have enabled
  // the element that had the focus.
  function restoreFocus(inst) {
    var el = inst.returnFocus;
    inst.returnFocus = null;
    if (el && typeof el.focus === 'function' && document.activeElement !== el) el.focus();
  }

  window.addEventListener('message', function (ev) {
    if (ev.origin !== sdkOrigin) return;
    var m = ev.data;
    if (!m || m.source !== TAG) return;
    var inst = null;
    Object.keys(instances).forEach(function (k) {
      if (instances[k].iframe.contentWindow === ev.source) inst = instances[k];
    });
    if (!inst) return;
    var cb;
    switch (m.type) {
      case 'ready':
        inst.ready = true;
        inst.queue.splice(0).forEach(function (q) { inst.iframe.contentWindow.postMessage(q, sdkOrigin); });
        break;
      case 'resize':
        inst.inlineHeight = Math.max(40, m.height | 0);
        if (!inst.dialog) inst.iframe.style.height = inst.inlineHeight + 'px';
        break;
      case 'loaded':
        inst.loaded = !!m.show_form;
        cb = inst.loadCb;
        inst.loadCb = null;
        if (cb) cb(m.error ? { show_form: false, error: m.error } : { show_form: !!m.show_form });
        break;
      case 'dialog':
        setDialog(inst, !!m.open);
        break;
      case 'authorized':
        setDialog(inst, false);
        cb = inst.authCb;
        inst.authCb = null;
        if (cb) cb(m.result);
        restoreFocus(inst);
        break;
    }
  });

  window.Klarna = window.Klarna || {};
  window.Klarna.Payments = {
    init: init,
    load: load,
    authorize: function (options, data, callback) { authorize(options, data, callback, false); },
    finalize: function (options, data, callback) { authorize(options, data, callback, true); },
  };
  if (typeof window.klarnaAsyncCallback === 'function') window.klarnaAsyncCallback();
})();

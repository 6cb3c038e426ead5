/*
 * The Klarna payment page: the Klarna Payments SDK's own calls, so the same
 * page works against the real Klarna (KLARNA_SDK_URL) and the sandbox.
 *   init({ client_token })   the session's client token, from the page
 *   load({ container, payment_method_category })   the category picked
 *   authorize({ payment_method_category })          the same, on "Buy with Klarna"
 * The categories are the session's payment_method_categories, which the page
 * lists as radio buttons with Klarna's names; none is hard-coded here.
 * Picking another one loads the widget for it. An approved authorization's
 * token is posted to the shop, which places the order server to server.
 * Nothing else leaves the page.
 */
(function () {
  'use strict';
  var root = document.getElementById('klarna-checkout');
  var buy = document.getElementById('klarna-buy');
  var status = document.getElementById('klarna-status');
  var form = document.getElementById('klarna-authorize-form');
  if (!root || !buy || !form) return;
  var choices = root.querySelectorAll('input[name="payment_method_category"]');
  var loading = 0; // the latest load: an earlier one's answer is stale

  function say(text) { status.textContent = text; }

  function picked() {
    for (var i = 0; i < choices.length; i++) {
      if (choices[i].checked) return choices[i].value;
    }
    return '';
  }

  function load() {
    var category = picked();
    buy.disabled = true;
    if (!category) {
      say('Klarna offers no way to pay for this order. Choose another payment method.');
      return;
    }
    var mine = ++loading;
    say('Loading Klarna…');
    try {
      Klarna.Payments.load({ container: '#klarna-payments-container', payment_method_category: category }, {}, function (res) {
        if (mine !== loading) return;
        if (res && res.show_form) {
          buy.disabled = false;
          say('');
        } else {
          say('Klarna cannot offer this way to pay for this order. Pick another way, or go back to the checkout to start again.');
        }
      });
    } catch (e) {
      say('Klarna could not start (' + e.name + '). Choose another payment method.');
    }
  }

  function start() {
    try {
      Klarna.Payments.init({ client_token: root.dataset.clientToken });
    } catch (e) {
      say('Klarna could not start (' + e.name + '). Choose another payment method.');
      return;
    }
    for (var i = 0; i < choices.length; i++) choices[i].addEventListener('change', load);
    load();
  }

  buy.addEventListener('click', function () {
    var category = picked();
    if (!category) return;
    say('Waiting for Klarna…');
    Klarna.Payments.authorize({ payment_method_category: category }, {}, function (res) {
      if (res && res.approved && res.authorization_token) {
        say('Approved. Placing your order…');
        form.elements.authorization_token.value = res.authorization_token;
        form.submit();
        return;
      }
      if (res && res.show_form === false) {
        say('Klarna cannot be used for this purchase in this way. Pick another, or choose another payment method. Nothing was charged.');
        return;
      }
      buy.disabled = false;
      say('You closed Klarna without approving. Nothing was charged; your cart is unchanged.');
    });
    buy.disabled = true; // after authorize(), which notes where the focus was
  });

  // The SDK calls klarnaAsyncCallback when it has loaded; it may also have
  // loaded before this script ran.
  if (window.Klarna && window.Klarna.Payments) start();
  else window.klarnaAsyncCallback = start;
})();

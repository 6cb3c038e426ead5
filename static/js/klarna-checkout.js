/*
 * The Klarna payment page: the Klarna Payments SDK's own calls, so the same
 * page works against the real Klarna (KLARNA_SDK_URL) and the sandbox.
 *   init({ client_token })   the session's client token, from the page
 *   load({ container, payment_method_category: 'klarna' })
 *   authorize({ payment_method_category: 'klarna' })   on "Buy with Klarna"
 * An approved authorization's token is posted to the shop, which places the
 * order server to server. Nothing else leaves the page.
 */
(function () {
  'use strict';
  var root = document.getElementById('klarna-checkout');
  var buy = document.getElementById('klarna-buy');
  var status = document.getElementById('klarna-status');
  var form = document.getElementById('klarna-authorize-form');
  if (!root || !buy || !form) return;

  function say(text) { status.textContent = text; }

  function start() {
    try {
      Klarna.Payments.init({ client_token: root.dataset.clientToken });
      Klarna.Payments.load({ container: '#klarna-payments-container', payment_method_category: 'klarna' }, {}, function (res) {
        if (res && res.show_form) {
          buy.disabled = false;
          say('');
        } else {
          say('Klarna is not available for this order. Go back to the checkout to start again, or choose another payment method.');
        }
      });
    } catch (e) {
      say('Klarna could not start (' + e.name + '). Choose another payment method.');
    }
  }

  buy.addEventListener('click', function () {
    say('Waiting for Klarna…');
    Klarna.Payments.authorize({ payment_method_category: 'klarna' }, {}, function (res) {
      if (res && res.approved && res.authorization_token) {
        say('Approved. Placing your order…');
        form.elements.authorization_token.value = res.authorization_token;
        form.submit();
        return;
      }
      if (res && res.show_form === false) {
        say('Klarna cannot be used for this purchase. Choose another payment method. Nothing was charged.');
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

// Package klarna emulates Klarna Payments v1 and the Customer Token API v1
// below /klarna/api, the Klarna Payments JS SDK at
// /klarna/cdn/kp/lib/v1/api.js and the payment widget it frames, with account
// linking:
//
//   - sessions (create, read, update) and orders from an authorization token,
//     with HTTP Basic credentials, Klarna's ErrorV2 error body
//     {correlation_id, error_code, error_messages} and the
//     Klarna-Correlation-Id header;
//   - account linking: a session with intent buy_and_link and the stored
//     customer.customer_token opens the widget ready to buy; the order answer
//     carries the customer_token to keep, a new one when the setting
//     klarna_rotate_customer_tokens is on, none when the customer opted out;
//   - the Customer Token API: read a token, place an order with it (no
//     customer present), cancel it;
//   - idempotency keys on every POST and PATCH, replayed for 24 hours.
//
// Sign in with Klarna (OpenID Connect) is another part of Klarna, emulated
// below /klarna/login by package klarnasignin; it tells this package, through
// SetAccessTokenValidator, which customer.klarna_access_token values it
// vouches for, so a signed-in customer's widget skips its login step.
//
// It follows Klarna's public documentation:
//   - Klarna Payments API reference: https://docs.klarna.com/api/payments/
//   - Customer Token API reference: https://docs.klarna.com/api/customertoken/
//   - initiate a payment (session, Basic auth, 48 hours): https://docs.klarna.com/klarna-payments/integrate-with-klarna-payments/step-1-initiate-a-payment/
//   - create an order: https://docs.klarna.com/klarna-payments/integrate-with-klarna-payments/step-3-create-an-order/
//   - the JS SDK (init, load, authorize): https://x.klarnacdn.net/kp/lib/v1/index.html
//   - account linking: https://docs.klarna.com/payments/web-payments/additional-resources/use-cases/account-linking/
//   - errors: https://docs.klarna.com/api/errors/ and
//     https://docs.klarna.com/resources/error-details/errors-in-klarna-payments/
//   - idempotency: https://docs.klarna.com/api/escalation-and-retry-policy/
//
// It never imports the shop's client (web/klarna): each side implements the
// documented contract on its own, and the tests hold both to the documented
// examples (testdata). Where the documentation is silent the choice made is
// written next to the code.
package klarna

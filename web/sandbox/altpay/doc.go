// Package altpay emulates Alternative Payments' demo environment
// (https://public-api.demo.alternativepayments.io) below /altpay:
//
//   - the OAuth2 client-credentials token endpoint, POST /oauth/token, with the
//     client id and secret in Basic auth (403 "Invalid credentials" when they
//     are wrong; no refresh token);
//   - the partner API the shop's server calls with that token: customers,
//     invoices, and POST /v1/checkout-auth/init, which mints a short-lived
//     checkout JWT scoped to one customer and one invoice;
//   - the checkout API the browser calls with the checkout JWT (the
//     invoice, payment methods, payments), which answers 401 once the token
//     expired so the page can ask the shop for a new one
//     (onAccessTokenExpired) and retry.
//
// It follows Alternative Payments' public documentation:
//   - environments and base URLs: https://docs.alternativepayments.io/getting-started/quick-start
//   - OAuth: https://docs.alternativepayments.io/api-reference/oauth
//   - the web SDK's token flow: https://docs.alternativepayments.io/web-sdk/authentication
//   - customers and invoices: https://docs.alternativepayments.io/api-reference/customers,
//     https://docs.alternativepayments.io/api-reference/invoices
//   - the checkout endpoints the browser SDK calls, as its published package
//     shows them: https://www.npmjs.com/package/@getalternative/partner-sdk
//
// Where the documentation says nothing or sources disagree, the choice is
// written next to the code; the shop's client (web/altpay) makes the same
// choices on its own and is never imported here.
//
// Choices that hold for the whole package:
//   - Currency: the API documents USD (the SDK also CAD); the shop sells in
//     EUR. The sandbox accepts USD, CAD and EUR and refuses anything else with
//     a validation error. The real demo account may accept only USD: the shop
//     then shows the provider's validation error.
//   - Amounts are decimal major units (19.90), JSON numbers on invoices and a
//     string on payments (the SDK sends amount:"<string>"). The docs do not
//     say the unit (one third-party client uses dollars); at most two
//     decimals are accepted, which fits all three currencies.
//   - Error bodies are the API reference's HttpError {code, message,
//     validation_errors} everywhere, the OAuth endpoint included (its 403
//     "Invalid credentials" text is documented, its body shape is not).
package altpay

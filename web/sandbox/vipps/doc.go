// Package vipps emulates Vipps MobilePay's test environment
// (https://apitest.vipps.no) below /vipps:
//
//   - the Access Token API: POST /accesstoken/get takes the sales unit's
//     client_id, client_secret and Ocp-Apim-Subscription-Key as headers and
//     answers a bearer token whose numbers are JSON strings
//     ("expires_in": "3600"); a token lasts an hour, as in the test
//     environment (setting vipps_access_token_ttl), and several may be valid
//     at once;
//   - the ePayment API v1: create, get, event log, capture, cancel and refund,
//     each with Authorization: Bearer, the subscription key and
//     Merchant-Serial-Number, an Idempotency-Key on every change, and the
//     test-only force approve;
//   - the landing page a WEB_REDIRECT payment sends the customer to, standing
//     in for the app.
//
// Errors come in the three shapes Vipps MobilePay answers in, by the layer
// that refuses: Azure API Management's {statusCode, message} (subscription
// key, bearer token), Microsoft Entra ID's OAuth error (client credentials at
// the token endpoint) and RFC 7807 problem+json from the ePayment API.
//
// It follows Vipps MobilePay's public documentation:
//   - Access Token API: https://developer.vippsmobilepay.com/docs/APIs/access-token-api/
//     and its reference https://developer.vippsmobilepay.com/api/access-token
//   - ePayment API guide: https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/
//     and its OpenAPI reference https://developer.vippsmobilepay.com/api/epayment
//   - ePayment errors: https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/errors/
//   - force approve: https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/operations/force-approve/
//   - error messages of the platform: https://developer.vippsmobilepay.com/docs/knowledge-base/errors/
//   - timeouts: https://developer.vippsmobilepay.com/docs/knowledge-base/timeouts/
//
// It never imports the shop's client (web/vipps): each side implements the
// documented contract on its own, and the tests hold both to the documented
// examples (testdata), so a misreading cannot hide by being shared. Where the
// documentation is silent the choice made is written next to the code; the
// client makes the same choice independently.
package vipps

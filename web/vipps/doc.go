// Package vipps is the shop's client for Vipps MobilePay: the Access Token API
// (one token per process, shared by every caller) and the ePayment API v1
// (create, get, events, capture, cancel, refund, and the test-only approve).
// It never imports the sandbox (web/sandbox/vipps): each side implements the
// documented contract on its own, and the tests hold both to the documented
// JSON examples in testdata/.
//
// # Access token
//
// POST /accesstoken/get has no body: the sales unit's client_id,
// client_secret and Ocp-Apim-Subscription-Key go in headers, together with
// Merchant-Serial-Number and the four Vipps-System-* headers (at most 30
// characters each) that Vipps uses to find a merchant's calls in its logs.
// The answer's numbers are JSON strings ("expires_in": "3600", "expires_on"
// in epoch seconds); flexInt reads a string or a number. A token lives 1 hour
// in the test environment and 24 hours in production, and several can be
// valid at once, so the cache may drop a refused token while another request
// still holds it. Every ePayment call carries Authorization: Bearer <token>
// (without the word Bearer Vipps answers 401) plus the subscription key and
// the MSN.
// https://developer.vippsmobilepay.com/docs/APIs/access-token-api/standard-authentication
// https://developer.vippsmobilepay.com/api/access-token
//
// # Endpoints
//
// Test environment https://apitest.vipps.no, production https://api.vipps.no.
// POST /epayment/v1/payments (201); GET /epayment/v1/payments/{reference} and
// .../events; POST .../{reference}/capture, /cancel and /refund; and, in the
// test environment only, POST /epayment/v1/test/payments/{reference}/approve
// (an older page shows it without /test).
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/operations/create
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/operations/capture.md
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/api-guide/operations/force-approve
//
// # Idempotency and timeouts
//
// Create, capture, cancel and refund take an Idempotency-Key header. The
// shop derives each from the payment attempt's stored key (OperationKey), so
// every retry, in this process or after a restart, sends the same key with
// the same body. The 50-character limit is the ePayment OpenAPI v1.4.1's; how
// long Vipps remembers a key is not documented. The ePayment FAQ lists
// idempotency conflicts (a key already used) among the domain errors. A
// customer has 10
// minutes to approve a payment request, and a merchant should wait that long
// before giving up on it.
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/faq
// https://developer.vippsmobilepay.com/docs/knowledge-base/timeouts
//
// # Errors
//
// ePayment errors are RFC 7807 application/problem+json: type, title, status,
// detail, instance, traceId and extraDetails [{name, reason}]. A domain error
// carries a number in extraDetails under the name ErrorCode (6080: capture
// before the customer approved); a 400 for malformed fields names the fields
// and has no ErrorCode. Error keeps traceId for Vipps's support. The errors
// page shows status as a number, as this client reads it; a knowledge-base
// example shows a string. 401, 403 and 429 may come from the Azure gateway
// as {statusCode, message}, and a wrong client_id or secret as a Microsoft
// Entra ID OAuth error; Vipps's docs do not show those bodies. Create,
// capture, cancel and refund allow 5 calls a minute per reference and MSN.
// https://developer.vippsmobilepay.com/docs/APIs/epayment-api/errors
// https://developer.vippsmobilepay.com/docs/knowledge-base/errors
//
// # Money, references and phone numbers
//
// An Amount is {currency, value}, value an integer in minor units (øre,
// cent). The currency must be that of the country the sales unit is
// registered in: NOK in Norway, DKK in Denmark, EUR in Finland; test users
// belong to a market too and must match the sales unit's. The client sends
// the currency it is given: which one the shop charges in, per market, is
// pending the markets work. A reference is unique per MSN and case-sensitive:
// the OpenAPI v1.4.1 allows 8-50 of [a-zA-Z0-9-], the current docs 8-64, and
// the shop keeps to 50. Phone numbers are MSISDNs: country code and number,
// digits only.
// https://developer.vippsmobilepay.com/docs/knowledge-base/across-borders
// https://developer.vippsmobilepay.com/docs/knowledge-base/test-environment
// https://developer.vippsmobilepay.com/docs/knowledge-base/orderid
package vipps

// Unit tests for altpay-errors.js: node --test static/jstest/
// Errors are made as the checkout client makes them from the provider's
// answers, so the test sees what a customer would.
import { test } from "node:test";
import assert from "node:assert/strict";
import { create } from "../js/altpay-checkout.js";
import { describe, ShopTokenError, PaymentFailed } from "../js/altpay-errors.js";

// failing returns the error a client throws when every try of getInvoice
// gets response() (a fresh Response each time), or throws it.
async function failing(response) {
  const client = create({
    accessToken: "tok", baseUrl: "https://api.test/altpay", retries: 1, sleep: async () => {},
    fetch: async () => { const r = response(); if (r instanceof Error) throw r; return r; },
  });
  return client.getInvoice().then(() => assert.fail("getInvoice succeeded"), (err) => err);
}

const html = (status, title) => () => new Response(`<html><title>${title}</title></html>`, { status, statusText: title, headers: { "Content-Type": "text/html" } });
const json = (status, body) => () => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

test("a 503 the snippet gave up on is a sentence, not the provider's title", async () => {
  const err = await failing(html(503, "Service Unavailable"));
  const d = describe(err);
  assert.equal(d.text, "Alternative Payments is not answering right now. Press Continue to try again; a payment is never made twice.");
  assert.doesNotMatch(d.text, /Service Unavailable/);
  assert.equal(d.canContinue, true);
});

test("the provider's own message for a 5xx, a 429 or a network failure is not shown", async () => {
  for (const [res, want] of [
    [json(500, { code: "internal_error", message: "pq: deadlock detected in invoices_pkey" }), /^Alternative Payments is not answering right now\./],
    [json(429, { code: "too_many_requests", message: "Too Many Requests" }), /^Alternative Payments is busy\./],
    [() => new TypeError("Failed to fetch"), /^Alternative Payments could not be reached\./],
  ]) {
    const d = describe(await failing(res));
    assert.match(d.text, want);
    assert.doesNotMatch(d.text, /deadlock|Too Many Requests|Failed to fetch/);
    assert.match(d.text, /a payment is never made twice/);
    assert.equal(d.canContinue, true);
  }
});

test("a refused form names the fields to correct and offers no Continue", async () => {
  const d = describe(await failing(json(400, { code: "bad_request", message: "Validation failed",
    validation_errors: { "us_account_data.routing_number": "routing_number must be a valid 9-digit ABA routing number" } })));
  assert.equal(d.text, "Alternative Payments did not accept these details. Please correct them:");
  assert.deepEqual(d.fields, { "us_account_data.routing_number": "routing_number must be a valid 9-digit ABA routing number" });
  assert.equal(d.canContinue, false);
});

test("another invoice's token or an unknown invoice: reload, no Continue", async () => {
  for (const status of [403, 404]) {
    const d = describe(await failing(json(status, { code: "x", message: "raw provider text" })));
    assert.match(d.text, /Reload the page/);
    assert.doesNotMatch(d.text, /raw provider text/);
    assert.equal(d.canContinue, false);
  }
});

test("an expired session says so and keeps Continue", async () => {
  const d = describe(await failing(json(401, { message: "jwt expired" })));
  assert.equal(d.text, "Your payment session expired. AccessTokenExpiredError: Access token has expired. Please provide a new token. What you entered is kept: press Continue to carry on.");
  assert.equal(d.canContinue, true);
});

test("the shop's own token errors keep the shop's sentence", () => {
  assert.deepEqual(describe(new ShopTokenError(409, "This invoice is paid or closed: there is nothing left to pay.")),
    { text: "This invoice is paid or closed: there is nothing left to pay.", canContinue: false, fields: {} });
  const signedOut = describe(new ShopTokenError(401, "You are signed out."));
  assert.equal(signedOut.text, "You are signed out. (Sign in in another tab, then press Continue.)");
  assert.equal(signedOut.canContinue, true);
  assert.equal(describe(new Error("wrapped", { cause: new ShopTokenError(502, "Pay by invoice is not available right now.") })).canContinue, true);
});

test("a declined payment says nothing was charged; anything else is a sentence too", () => {
  assert.equal(describe(new PaymentFailed("Your card was declined.")).text,
    "Your card was declined. Nothing was charged. Choose or add another payment method.");
  const d = describe(new TypeError("Cannot read properties of undefined (reading 'total')"));
  assert.equal(d.text, "Something went wrong on this page. Press Continue to try again; a payment is never made twice.");
});

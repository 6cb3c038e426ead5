// Unit tests for altpay-checkout.js: node --test static/js/
// A fake fetch answers from a script and records every request; sleep is
// recorded instead of waited; the timeout test uses Node's mock timers.
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import {
  create, AlternativeError, AccessTokenExpiredError, ValidationError, ForbiddenError, NotFoundError,
  RateLimitError, ServerError, TimeoutError, NetworkError,
} from "../js/altpay-checkout.js";

const BASE = "https://api.test/altpay";

function json(status, body, headers = {}) {
  return new Response(body === undefined ? "" : JSON.stringify(body), {
    status, headers: { "Content-Type": "application/json", ...headers },
  });
}

// fakeFetch answers each request with the next step: a Response, a function
// (url, init) => Response | Promise, or an Error to throw.
function fakeFetch(...steps) {
  const calls = [];
  const fn = async (url, init) => {
    calls.push({ url, method: init.method, headers: { ...init.headers }, body: init.body && JSON.parse(init.body) });
    const step = steps.length > 1 ? steps.shift() : steps[0];
    if (step instanceof Error) throw step;
    return typeof step === "function" ? step(url, init) : step.clone();
  };
  fn.calls = calls;
  return fn;
}

function setup(fetch, opts = {}) {
  const sleeps = [];
  const client = create({
    accessToken: "tok-1", baseUrl: BASE, fetch, sleep: async (ms) => { sleeps.push(ms); }, ...opts,
  });
  return { client, sleeps };
}

const invoice = { id: "inv_1", customer_id: "cus_1", status: "UPCOMING", total: 44.8, currency: "EUR" };

test("calls the checkout API with the Bearer token and the invoice scope", async () => {
  const fetch = fakeFetch(json(200, invoice));
  const { client } = setup(fetch, { invoiceId: "inv_1", baseUrl: BASE + "/" });
  assert.deepEqual(await client.getInvoice(), invoice);
  assert.equal(fetch.calls[0].url, `${BASE}/checkout/invoice?invoice_id=inv_1`);
  assert.equal(fetch.calls[0].method, "GET");
  assert.equal(fetch.calls[0].headers.Authorization, "Bearer tok-1");
});

test("create refuses a missing token, base URL or a callback that is not a function", () => {
  assert.throws(() => create({ baseUrl: BASE }), TypeError);
  assert.throws(() => create({ accessToken: "t" }), TypeError);
  assert.throws(() => create({ accessToken: "t", baseUrl: BASE, onAccessTokenExpired: "nope" }), TypeError);
});

test("a 401 awaits onAccessTokenExpired, swaps the token and retries once", async () => {
  const fetch = fakeFetch(json(401, { code: "token_expired", message: "Access token has expired" }), json(200, invoice));
  const onAccessTokenExpired = mock.fn(async () => "tok-2");
  const { client, sleeps } = setup(fetch, { onAccessTokenExpired, retries: 0 });
  assert.deepEqual(await client.getInvoice(), invoice);
  assert.equal(onAccessTokenExpired.mock.callCount(), 1);
  assert.deepEqual(fetch.calls.map((c) => c.headers.Authorization), ["Bearer tok-1", "Bearer tok-2"]);
  assert.deepEqual(sleeps, [], "the token retry does not wait and is not counted as a retry (retries: 0)");

  // The new token stays in use.
  await client.getInvoice();
  assert.equal(fetch.calls[2].headers.Authorization, "Bearer tok-2");
});

test("without a callback a 401 throws AccessTokenExpiredError with statusCode 401", async () => {
  const { client } = setup(fakeFetch(json(401, { code: "token_expired" })));
  await assert.rejects(client.getInvoice(), (err) => {
    assert.ok(err instanceof AccessTokenExpiredError);
    assert.ok(err instanceof AlternativeError);
    assert.equal(err.name, "AccessTokenExpiredError");
    assert.equal(err.statusCode, 401);
    assert.equal(err.message, "Access token has expired. Please provide a new token.");
    return true;
  });
});

test("a failing callback throws AccessTokenExpiredError carrying the cause", async () => {
  const cause = new Error("shop said 403");
  const { client } = setup(fakeFetch(json(401, {})), { onAccessTokenExpired: async () => { throw cause; } });
  await assert.rejects(client.getInvoice(), (err) => err instanceof AccessTokenExpiredError && err.cause === cause && err.statusCode === 401);
});

test("a callback that returns no token counts as failing", async () => {
  const { client } = setup(fakeFetch(json(401, {})), { onAccessTokenExpired: async () => undefined });
  await assert.rejects(client.getInvoice(), AccessTokenExpiredError);
});

test("a second 401 after the new token throws AccessTokenExpiredError, one callback call", async () => {
  const fetch = fakeFetch(json(401, {}), json(401, {}));
  const onAccessTokenExpired = mock.fn(async () => "tok-2");
  const { client } = setup(fetch, { onAccessTokenExpired });
  await assert.rejects(client.getInvoice(), (err) => err instanceof AccessTokenExpiredError && err.statusCode === 401);
  assert.equal(onAccessTokenExpired.mock.callCount(), 1);
  assert.equal(fetch.calls.length, 2);
});

test("concurrent requests that hit 401 together share one callback call", async () => {
  const fetch = fakeFetch((url, init) =>
    init.headers.Authorization === "Bearer tok-2" ? json(200, { data: [], ...invoice }) : json(401, { code: "token_expired" }));
  let release;
  const gate = new Promise((r) => { release = r; });
  const onAccessTokenExpired = mock.fn(async () => { await gate; return "tok-2"; });
  const { client } = setup(fetch, { onAccessTokenExpired });
  const all = Promise.all([client.getInvoice(), client.listPaymentMethods(), client.getTheme(), client.getInvoice()]);
  // Let every request reach its 401 before the shop answers.
  while (fetch.calls.length < 4) await new Promise((r) => setImmediate(r));
  release();
  const [inv, methods] = await all;
  assert.equal(inv.id, "inv_1");
  assert.deepEqual(methods, []);
  assert.equal(onAccessTokenExpired.mock.callCount(), 1);
  assert.equal(fetch.calls.filter((c) => c.headers.Authorization === "Bearer tok-2").length, 4);
});

test("a 401 that arrives after the token was renewed retries with the new token, no second callback", async () => {
  let releaseLate;
  const late = new Promise((r) => { releaseLate = r; });
  let oldTokenCalls = 0;
  const fetch = fakeFetch(async (url, init) => {
    if (init.headers.Authorization === "Bearer tok-2") return json(200, invoice);
    oldTokenCalls++;
    if (oldTokenCalls === 2) await late; // the second request's 401 comes back late
    return json(401, {});
  });
  const onAccessTokenExpired = mock.fn(async () => "tok-2");
  const { client } = setup(fetch, { onAccessTokenExpired });
  const first = client.getInvoice();
  const second = client.getTheme();
  await first; // 401, renewed to tok-2, retried
  releaseLate();
  await second;
  assert.equal(onAccessTokenExpired.mock.callCount(), 1);
  const secondCalls = fetch.calls.filter((c) => c.url.endsWith("/preferences/theme")).map((c) => c.headers.Authorization);
  assert.deepEqual(secondCalls, ["Bearer tok-1", "Bearer tok-2"]);
});

test("errors are typed by status, with the body's message, code and validation errors", async () => {
  const cases = [
    [json(400, { code: "bad_request", message: "Validation failed", validation_errors: { amount: "too big" } }), ValidationError, 400],
    [json(403, { code: "forbidden", message: "This checkout token is not valid for that invoice" }), ForbiddenError, 403],
    [json(404, { code: "not_found", message: "Invoice not found" }), NotFoundError, 404],
    [json(409, { code: "conflict", message: "key reused" }), AlternativeError, 409],
  ];
  for (const [res, Type, status] of cases) {
    const fetch = fakeFetch(res);
    const { client, sleeps } = setup(fetch);
    await assert.rejects(client.getInvoice(), (err) => {
      assert.ok(err instanceof Type, `${status}: ${err.name}`);
      assert.equal(err.statusCode, status);
      assert.notEqual(err.message, "");
      return true;
    });
    assert.equal(fetch.calls.length, 1, `${status} is not retried`);
    assert.deepEqual(sleeps, []);
  }
  const fetch = fakeFetch(json(400, { code: "bad_request", message: "Validation failed", validation_errors: { amount: "too big" } }));
  await assert.rejects(setup(fetch).client.getInvoice(), (err) => err.code === "bad_request" && err.details.amount === "too big" && err.message === "Validation failed");
  const legacy = fakeFetch(json(400, { error: "invalid invoice id" }));
  await assert.rejects(setup(legacy).client.getInvoice(), (err) => err.message === "invalid invoice id");
});

test("5xx is retried with 1 s, 2 s, 4 s backoff up to retries", async () => {
  const fetch = fakeFetch(json(503, { code: "internal_error" }), json(502, {}), json(500, {}), json(200, invoice));
  const { client, sleeps } = setup(fetch, { retries: 3 });
  assert.deepEqual(await client.getInvoice(), invoice);
  assert.deepEqual(sleeps, [1000, 2000, 4000]);

  const down = fakeFetch(json(503, { code: "internal_error", message: "Service Unavailable" }));
  const s2 = setup(down, { retries: 2 });
  await assert.rejects(s2.client.getInvoice(), (err) => err instanceof ServerError && err.statusCode === 503);
  assert.equal(down.calls.length, 3);
  assert.deepEqual(s2.sleeps, [1000, 2000]);
});

test("429 is retried after Retry-After seconds, then RateLimitError", async () => {
  const fetch = fakeFetch(json(429, { code: "too_many_requests" }, { "Retry-After": "3" }), json(200, invoice));
  const { client, sleeps } = setup(fetch);
  await client.getInvoice();
  assert.deepEqual(sleeps, [3000]);

  const limited = fakeFetch(json(429, { code: "too_many_requests", message: "Too Many Requests" }, { "Retry-After": "1" }));
  const s2 = setup(limited, { retries: 1 });
  await assert.rejects(s2.client.getInvoice(), (err) => err instanceof RateLimitError && err.retryAfter === 1 && err.statusCode === 429);
  assert.deepEqual(s2.sleeps, [1000]);

  const noHeader = fakeFetch(json(429, {}), json(200, invoice));
  const s3 = setup(noHeader);
  await s3.client.getInvoice();
  assert.deepEqual(s3.sleeps, [1000], "without Retry-After: the normal backoff");
});

test("network errors are retried, then NetworkError", async () => {
  const fetch = fakeFetch(new TypeError("Failed to fetch"), json(200, invoice));
  const { client, sleeps } = setup(fetch);
  assert.deepEqual(await client.getInvoice(), invoice);
  assert.deepEqual(sleeps, [1000]);

  const offline = fakeFetch(new TypeError("Failed to fetch"));
  const s2 = setup(offline, { retries: 2 });
  await assert.rejects(s2.client.getInvoice(), (err) => err instanceof NetworkError && err.cause instanceof TypeError);
  assert.equal(offline.calls.length, 3);
});

test("a request with no answer within timeout throws TimeoutError", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const hang = fakeFetch((url, init) => new Promise((resolve, reject) => {
    init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
  }));
  const { client, sleeps } = setup(hang, { timeout: 5000, retries: 1 });
  const p = client.getInvoice();
  const rejected = assert.rejects(p, (err) => err instanceof TimeoutError);
  for (let i = 0; i < 2; i++) {
    while (hang.calls.length <= i) await new Promise((r) => setImmediate(r));
    t.mock.timers.tick(5000);
  }
  await rejected;
  assert.equal(hang.calls.length, 2, "a timeout is retried like a network error");
  assert.deepEqual(sleeps, [1000]);
});

test("payments carry one Idempotency-Key across retries and the token renewal", async () => {
  const fetch = fakeFetch(json(503, {}), json(401, {}), json(200, { status: "succeeded", message: "Payment received" }));
  const { client } = setup(fetch, { invoiceId: "inv_1", onAccessTokenExpired: async () => "tok-2" });
  const reply = await client.createPayment({ amount: "44.80", paymentMethodId: "pm_1", paymentMethod: "card", paymentDate: "2025-03-10T12:00:00.000Z" });
  assert.deepEqual(reply, { status: "succeeded", message: "Payment received" });
  const keys = fetch.calls.map((c) => c.headers["Idempotency-Key"]);
  assert.equal(keys.length, 3);
  assert.ok(/^payment-inv_1-pm_1-44\.80-\d+$/.test(keys[0]), keys[0]);
  assert.ok(keys.every((k) => k === keys[0]), `keys differ: ${keys}`);
  assert.deepEqual(fetch.calls[0].body, { amount: "44.80", payment_date: "2025-03-10T12:00:00.000Z", payment_method: "card", payment_method_id: "pm_1" });
  assert.equal(fetch.calls[0].url, `${BASE}/checkout/payments?invoice_id=inv_1`);
});

test("a caller's idempotency key is used as given", async () => {
  const fetch = fakeFetch(json(200, { status: "succeeded", message: "ok" }));
  const { client } = setup(fetch);
  await client.createPayment({ amount: 44.8, paymentMethodId: "pm_1", paymentMethod: "card", idempotencyKey: "attempt-7" });
  assert.equal(fetch.calls[0].headers["Idempotency-Key"], "attempt-7");
  assert.equal(fetch.calls[0].body.amount, "44.8");
});

test("payment methods: list, add a card and a bank account with the documented bodies", async () => {
  const pm = { id: "pm_1", type: "card", last4: "4242", default: true, brand: "visa" };
  const fetch = fakeFetch(json(200, { data: [pm] }), json(201, pm), json(201, { id: "pm_2", type: "ach", last4: "6789", default: false }));
  const { client } = setup(fetch);
  assert.deepEqual(await client.listPaymentMethods(), [pm]);
  const address = { street_address: "1 Main St", city: "Springfield", postal_code: "12345", country: "United States", country_code: "US", state: "IL", state_code: "IL" };
  await client.addCard({ cardProviderToken: "tok_test_visa", address });
  assert.deepEqual(fetch.calls[1].body, { card_provider_token: "tok_test_visa", provider: "evervault", address });
  assert.equal(fetch.calls[1].url, `${BASE}/checkout/payment-methods/card`);
  const bank = { account_data_type: "us", institution_name: "Test Bank", receiver_name: "Jane", subtype: "checkings", type: "depository",
    us_account_data: { account_number: "000123456789", routing_number: "011000015" } };
  await client.addBankAccount(bank);
  assert.deepEqual(fetch.calls[2].body, bank);
  assert.equal(fetch.calls[2].headers["Content-Type"], "application/json");
});

test("an unreadable 2xx reply is an AlternativeError, not a SyntaxError", async () => {
  const fetch = fakeFetch(new Response("<html>", { status: 200 }));
  await assert.rejects(setup(fetch).client.getInvoice(), (err) => err instanceof AlternativeError && err.statusCode === 200);
});

// altpay-invoice.js: the invoice page (views/altpay.templ). It gets a checkout
// token from the shop, then uses the checkout snippet to load the invoice and
// the saved payment methods, add one and pay. After a payment it submits the
// confirm form: the shop checks the invoice with the provider and only then
// marks the order paid.
//
// The page's data attributes: data-api (the provider's base URL), data-token-url
// (the shop's token endpoint), data-invoice (the invoice id), data-callback
// ("off": run without onAccessTokenExpired, so an expired token shows
// AccessTokenExpiredError and the Continue button).
import { create } from "./altpay-checkout.js";
import { attemptFor, clearAttempt } from "./altpay-attempt.js";
import { describe, ShopTokenError, PaymentFailed } from "./altpay-errors.js";

const root = document.getElementById("altpay-invoice");
if (root) main(root);

function main(root) {
  const cfg = root.dataset;
  const $ = (id) => document.getElementById(id);
  const status = $("altpay-status");
  const errorBox = $("altpay-error");
  const payForm = $("altpay-pay-form");
  const payButton = $("altpay-pay");
  const addForm = $("altpay-add-form");
  const confirmForm = $("altpay-confirm");

  let client = null;
  let invoice = null;
  let lastAction = null; // what Continue repeats

  // fetchToken asks the shop for a checkout token: on load, and as
  // onAccessTokenExpired when the provider refuses an expired one.
  async function fetchToken() {
    const res = await fetch(cfg.tokenUrl, { method: "POST", headers: { Accept: "application/json" }, credentials: "same-origin" });
    let body = {};
    try { body = await res.json(); } catch { body = {}; }
    if (!res.ok || typeof body.token !== "string") {
      throw new ShopTokenError(res.status, body.message || "The shop could not start a payment session.");
    }
    return body.token;
  }

  function makeClient(token) {
    return create({
      accessToken: token,
      baseUrl: cfg.api,
      invoiceId: cfg.invoice,
      onAccessTokenExpired: cfg.callback === "off" ? undefined : fetchToken,
      retries: 2,
      timeout: 20_000,
    });
  }

  // run does one user action with the page marked busy, and shows its error.
  async function run(action, busyText) {
    lastAction = action;
    hideError();
    setBusy(true, busyText);
    try {
      await action();
    } catch (err) {
      showError(err);
    } finally {
      setBusy(false);
    }
  }

  function setBusy(busy, text) {
    root.setAttribute("aria-busy", String(busy));
    for (const b of root.querySelectorAll("button")) b.disabled = busy;
    if (!busy) updatePayButton();
    if (text) status.textContent = text;
  }

  function hideError() {
    errorBox.hidden = true;
    $("altpay-error-details").replaceChildren();
    for (const el of addForm.querySelectorAll("[aria-invalid=true]")) el.setAttribute("aria-invalid", "false");
  }

  // showError shows describe's sentence for err (never the provider's own
  // text), the refused fields, and Continue where trying again can help.
  function showError(err) {
    const { text, canContinue, fields } = describe(err);
    markFields(fields);
    $("altpay-error-text").textContent = text;
    $("altpay-error-actions").hidden = !canContinue;
    errorBox.hidden = false;
    status.textContent = "";
    errorBox.focus?.();
  }

  // markFields shows the provider's validation errors next to our inputs:
  // "us_account_data.routing_number" belongs to the input named routing_number.
  function markFields(details) {
    const list = $("altpay-error-details");
    for (const [field, msg] of Object.entries(details)) {
      const name = field.split(".").pop();
      const input = addForm.querySelector(`[name="${CSS.escape(name)}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
      const li = document.createElement("li");
      li.textContent = `${input?.labels?.[0]?.textContent || field}: ${msg}`;
      list.append(li);
    }
  }

  $("altpay-continue").addEventListener("click", () => {
    const retry = lastAction;
    run(async () => {
      const token = await fetchToken();
      if (client) client.setAccessToken(token);
      else client = makeClient(token);
      if (retry) await retry();
    }, "Starting a new payment session…");
  });

  // Invoices are sold in the shop's United States market (USD only).
  const money = (amount, currency) => new Intl.NumberFormat("en-US", { style: "currency", currency }).format(amount);
  const statusText = { UPCOMING: "Open", OVERDUE: "Overdue", RECEIVED: "Payment received, settling", PAID: "Paid", ARCHIVED: "Archived" };

  function showInvoice(inv) {
    invoice = inv;
    const set = (field, text) => { for (const el of root.querySelectorAll(`[data-field="${field}"]`)) el.textContent = text; };
    set("invoice_number", inv.invoice_number || inv.id);
    set("status", statusText[inv.status] || inv.status);
    set("due_date", inv.due_date);
    set("total", money(inv.total, inv.currency));
    payButton.textContent = `Pay ${money(inv.total, inv.currency)}`;
  }

  function showMethods(methods, select) {
    const list = $("altpay-method-list");
    list.replaceChildren();
    $("altpay-no-methods").hidden = methods.length > 0;
    for (const pm of methods) {
      const label = document.createElement("label");
      label.className = "choice";
      const input = document.createElement("input");
      Object.assign(input, { type: "radio", name: "payment_method_id", value: pm.id });
      input.dataset.type = pm.type;
      input.checked = select ? pm.id === select : pm.default;
      const what = pm.type === "card" ? `${capitalise(pm.brand || "Card")} ending ${pm.last4}` : `Bank account ending ${pm.last4}`;
      label.append(input, ` ${what}${pm.default ? " (default)" : ""}`);
      list.append(label);
    }
    if (!list.querySelector("input:checked") && list.querySelector("input")) list.querySelector("input").checked = true;
    updatePayButton();
  }

  function updatePayButton() {
    payButton.disabled = !invoice || invoice.status === "PAID" || !payForm.querySelector("input[name=payment_method_id]:checked");
  }

  const capitalise = (s) => s.charAt(0).toUpperCase() + s.slice(1);

  async function load() {
    if (!client) client = makeClient(await fetchToken());
    const [inv, methods] = await Promise.all([client.getInvoice(), client.listPaymentMethods()]);
    showInvoice(inv);
    showMethods(methods);
    if (inv.status === "PAID") {
      status.textContent = "This invoice is paid. Checking it with the shop…";
      confirmForm.submit();
      return;
    }
    status.textContent = methods.length ? "Choose a payment method and pay." : "Add a payment method to pay.";
  }

  async function addMethod() {
    const f = new FormData(addForm);
    const v = (name) => String(f.get(name) || "").trim();
    let pm;
    if (v("kind") === "card") {
      const country = v("country_code").toUpperCase();
      pm = await client.addCard({
        cardProviderToken: v("card_provider_token"),
        address: { street_address: v("street_address"), city: v("city"), postal_code: v("postal_code"), country_code: country, country, state: "", state_code: "" },
      });
    } else {
      pm = await client.addBankAccount({
        account_data_type: "us", type: "depository", subtype: v("subtype"),
        institution_name: v("institution_name"), receiver_name: v("receiver_name"),
        us_account_data: { account_number: v("account_number"), routing_number: v("routing_number") },
      });
    }
    showMethods(await client.listPaymentMethods(), pm.id);
    addForm.reset();
    showKind();
    $("altpay-add").open = false;
    status.textContent = "Payment method saved. You can pay now.";
  }

  async function pay() {
    const picked = payForm.querySelector("input[name=payment_method_id]:checked");
    if (!picked) throw new PaymentFailed("Choose a payment method first.");
    const amount = invoice.total.toFixed(2);
    // One key per payment attempt, kept in sessionStorage: pressing Pay again
    // after an error, or after reloading the page, sends the same key and
    // body, so the provider cannot take the money twice.
    const attempt = attemptFor(sessionStorageOrNull(), cfg.invoice, picked.value, amount);
    const reply = await client.createPayment({
      amount, paymentMethodId: picked.value, paymentMethod: picked.dataset.type === "card" ? "card" : "standard_ach",
      paymentDate: attempt.date, idempotencyKey: attempt.key,
    });
    clearAttempt(sessionStorageOrNull(), cfg.invoice); // the provider answered: a further press is a new payment
    if (reply?.status === "failed") throw new PaymentFailed(reply.message || "The payment failed.");
    status.textContent = "Payment sent. Checking it with the shop…";
    confirmForm.submit();
  }

  // sessionStorageOrNull: reading window.sessionStorage itself throws where
  // storage is disabled.
  function sessionStorageOrNull() {
    try { return window.sessionStorage; } catch { return null; }
  }

  function showKind() {
    const card = addForm.querySelector("input[name=kind]:checked")?.value !== "bank";
    $("altpay-card-fields").hidden = !card;
    $("altpay-bank-fields").hidden = card;
  }

  for (const r of addForm.querySelectorAll("input[name=kind]")) r.addEventListener("change", showKind);
  payForm.addEventListener("change", updatePayButton);
  addForm.addEventListener("submit", (ev) => { ev.preventDefault(); run(addMethod, "Saving the payment method…"); });
  payForm.addEventListener("submit", (ev) => { ev.preventDefault(); run(pay, "Paying…"); });
  errorBox.tabIndex = -1;
  showKind();
  run(load, "Loading your invoice…");
}

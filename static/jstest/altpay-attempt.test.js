// Unit tests for altpay-attempt.js: node --test static/jstest/
// A Map stands in for sessionStorage; "a reload" is a second call with the
// same storage (the module's memory is shared, so tests use new invoice ids).
import { test } from "node:test";
import assert from "node:assert/strict";
import { attemptFor, clearAttempt } from "../js/altpay-attempt.js";

function fakeStorage() {
  const m = new Map();
  return {
    m,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => { m.set(k, String(v)); },
    removeItem: (k) => { m.delete(k); },
  };
}

const at = (iso) => () => new Date(iso);

test("the same invoice, method and amount keep the key and the date, across reloads", () => {
  const s = fakeStorage();
  const a = attemptFor(s, "inv_1", "pm_1", "18.00", at("2026-11-21T09:00:00Z"));
  assert.match(a.key, /^payment-inv_1-/);
  assert.equal(a.date, "2026-11-21T09:00:00.000Z");
  // What a reload leaves: only the storage.
  const copy = fakeStorage();
  for (const [k, v] of s.m) copy.setItem(k, v);
  const b = attemptFor(copy, "inv_1", "pm_1", "18.00", at("2026-11-21T09:05:00Z"));
  assert.deepEqual(b, a);
});

test("another method or amount is a new attempt; invoices are independent", () => {
  const s = fakeStorage();
  const a = attemptFor(s, "inv_2", "pm_1", "18.00");
  const other = attemptFor(s, "inv_2", "pm_2", "18.00");
  assert.notEqual(other.key, a.key);
  assert.equal(attemptFor(s, "inv_2", "pm_2", "18.00").key, other.key);
  assert.notEqual(attemptFor(s, "inv_2", "pm_2", "19.00").key, other.key);
  const elsewhere = attemptFor(s, "inv_3", "pm_1", "18.00");
  assert.notEqual(elsewhere.key, a.key);
  assert.ok(s.m.has("altpay-attempt:inv_3"));
});

test("clearAttempt forgets it: the next press is a new payment", () => {
  const s = fakeStorage();
  const a = attemptFor(s, "inv_4", "pm_1", "18.00");
  clearAttempt(s, "inv_4");
  assert.equal(s.m.has("altpay-attempt:inv_4"), false);
  assert.notEqual(attemptFor(s, "inv_4", "pm_1", "18.00").key, a.key);
});

test("a storage that throws, or none, still keeps the attempt for the page's life", () => {
  const broken = { getItem() { throw new Error("denied"); }, setItem() { throw new Error("quota"); }, removeItem() { throw new Error("denied"); } };
  const a = attemptFor(broken, "inv_5", "pm_1", "18.00");
  assert.equal(attemptFor(broken, "inv_5", "pm_1", "18.00").key, a.key);
  assert.equal(attemptFor(null, "inv_5", "pm_1", "18.00").key, a.key);
  clearAttempt(broken, "inv_5");
  assert.notEqual(attemptFor(broken, "inv_5", "pm_1", "18.00").key, a.key);
});

test("a damaged stored value is replaced", () => {
  const s = fakeStorage();
  s.setItem("altpay-attempt:inv_6", "{not json");
  const a = attemptFor(s, "inv_6", "pm_1", "18.00");
  assert.match(a.key, /^payment-inv_6-/);
  assert.equal(JSON.parse(s.getItem("altpay-attempt:inv_6")).key, a.key);
});

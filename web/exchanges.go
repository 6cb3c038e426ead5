package web

import (
	"context"
	"strconv"
	"strings"
	"time"

	"refshop/db"
	"refshop/web/outbound"
)

// Every exchange between the shop and a provider is recorded by the
// outbound client (outbound.Recorder, redacted by web/redact) into the
// store, with the order or account it was made for:
//
//   - provider work for an order runs under a work key naming it (workKey:
//     "vipps.create:order:12"); providerWork.start puts the order on the
//     work's context (outbound.WithOrder), and a key naming an account
//     (":user:7") the account;
//   - the sweeps (sweepPass) and the release of closed attempts
//     (releaseClosed) name the order they settle;
//   - Sign in with Klarna's grant keeper names the account whose tokens it
//     uses (klarnasignin/grants).
//
// The calls providers make to the shop (webhook deliveries, callbacks) are
// recorded too, by the same recorder, marked as the provider's
// (web/inbound, inbound_routes.go): each receiver names the order once it
// has found it (inbound.SetOrder).
//
// The order page and the account page read them with
// Store.ExchangesByOrder and Store.ExchangesByUser; the background prunes
// them after Config.ExchangeRetention.

// exchangesPruneEvery is how often the background prunes old exchanges.
const exchangesPruneEvery = time.Hour

// ExchangeSink stores the outbound recorder's exchanges in store: the
// shop's calls, and the providers' calls to the shop (Inbound).
func ExchangeSink(store *db.Store) outbound.Sink {
	return func(ctx context.Context, x outbound.Exchange) error {
		origin := db.OriginShop
		if x.Inbound {
			origin = db.OriginProvider
		}
		return store.RecordExchange(ctx, db.Exchange{
			StartedAt: x.StartedAt, ProviderAt: x.ProviderAt, Duration: x.Duration, OrderID: x.OrderID, UserID: x.UserID, RequestID: x.RequestID,
			Provider: x.Provider, Operation: x.Operation, PathTemplate: x.PathTemplate, Method: x.Method, URL: x.URL,
			Status: x.Status, Error: x.Error, Try: x.Try, RetryReason: x.RetryReason, IdempotencyKey: x.IdempotencyKey,
			ReqHeaders: x.ReqHeader, ReqBody: x.ReqBody, RespHeaders: x.RespHeader, RespBody: x.RespBody,
			Origin: origin, Event: x.Event,
		})
	}
}

// pruneExchanges deletes the exchanges older than the retention.
func (a *App) pruneExchanges(ctx context.Context) {
	n, err := a.Store.PruneExchanges(ctx, a.Clock.Now().Add(-a.Config.ExchangeRetention))
	switch {
	case err != nil:
		a.Log.Warn("pruning recorded provider exchanges", "error", err)
	case n > 0:
		a.Log.Info("pruned recorded provider exchanges", "deleted", n, "older_than", a.Config.ExchangeRetention)
	}
}

// workSubject reads the order or account a work key names (workKey,
// userWorkKey): ":order:<id>" or ":user:<id>" at its end.
func workSubject(key string) (orderID, userID int64) {
	i := strings.LastIndex(key, ":")
	if i < 0 {
		return 0, 0
	}
	id, err := strconv.ParseInt(key[i+1:], 10, 64)
	if err != nil || id <= 0 {
		return 0, 0
	}
	switch {
	case strings.HasSuffix(key[:i], ":order"):
		return id, 0
	case strings.HasSuffix(key[:i], ":user"):
		return 0, id
	}
	return 0, 0
}

// withSubject puts on ctx the order or account the work key names.
func withSubject(ctx context.Context, key string) context.Context {
	order, user := workSubject(key)
	if order != 0 {
		ctx = outbound.WithOrder(ctx, order)
	}
	if user != 0 {
		ctx = outbound.WithUser(ctx, user)
	}
	return ctx
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"refshop/db"
	"refshop/web"
	"refshop/web/clock"
	"refshop/web/config"
	"refshop/web/outbound"
)

// loadConfig reads and checks the configuration: the first thing serving
// and every command do.
func loadConfig(getenv func(string) string) (config.Config, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return cfg, fmt.Errorf("configuration:\n%v\n(see .env.example)", err)
	}
	return cfg, nil
}

// openShop loads the configuration and opens the shop's database: all the
// admin command needs. The caller closes the database.
func openShop(ctx context.Context, getenv func(string) string) (config.Config, *db.DB, error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return cfg, nil, err
	}
	database, err := openDatabase(ctx, cfg, getenv)
	if err != nil {
		return cfg, nil, err
	}
	return cfg, database, nil
}

// openDatabase opens the PostgreSQL database DATABASE_URL names, or SQLite
// in the data dir when it is unset. A wrong or unreachable URL stops the
// start, named without its password.
func openDatabase(ctx context.Context, cfg config.Config, getenv func(string) string) (*db.DB, error) {
	return db.OpenURL(ctx, getenv("DATABASE_URL"), cfg.DataDir)
}

// openDeps opens what the shop for cfg runs on, for serving and for the
// commands that call providers (vipps-webhook, altpay-webhook): the
// database and its store, the sealing box (refusing a key the database was
// not made with), a log on stderr, and the one outbound client, whose
// exchanges the recorder stores, redacted, with the shop's others. The
// provider clients are left to web.WithProviderClients: serving first sets
// the sandbox's clock (embedded, or followed when it runs apart), which some
// of them run on.
//
// closeDeps stores what the recorder still holds, then closes the
// database; call it once nothing calls a provider any more.
func openDeps(ctx context.Context, cfg config.Config, getenv func(string) string, stderr io.Writer) (_ web.Deps, closeDeps func(), _ error) {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel(getenv)}))
	database, err := openDatabase(ctx, cfg, getenv)
	if err != nil {
		return web.Deps{}, nil, err
	}
	shopClock := clock.Real{}
	store := db.NewStore(database, shopClock.Now)
	box, err := openBox(ctx, cfg, store)
	if err != nil {
		database.Close()
		return web.Deps{}, nil, err
	}
	recorder := outbound.NewRecorder(web.ExchangeSink(store), log.With("component", "recorder"), shopClock.Now)
	d := web.Deps{Config: cfg, Store: store, DB: database, Log: log, Clock: shopClock, Box: box,
		HTTP: outbound.NewClient(log, 20*time.Second, recorder), Recorder: recorder}
	return d, func() { recorder.Close(); database.Close() }, nil
}

// openProviders is openDeps with the provider clients built: what the
// provider commands work with.
func openProviders(ctx context.Context, cfg config.Config, getenv func(string) string, stderr io.Writer) (web.Deps, func(), error) {
	d, closeDeps, err := openDeps(ctx, cfg, getenv, stderr)
	if err != nil {
		return d, nil, err
	}
	return web.WithProviderClients(d), closeDeps, nil
}

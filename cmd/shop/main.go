// Command shop runs the reference shop and, unless SANDBOX_ADDR=off or
// SANDBOX_URL names a sandbox running apart (cmd/sandbox), the embedded
// provider sandbox on its own origin.
//
// `shop admin -email x@example.com` instead creates a shop administrator
// (the password is read from the first line of stdin) and exits; so does
// the shop at start when SHOP_ADMIN_EMAIL and SHOP_ADMIN_PASSWORD are set.
//
// `shop vipps-webhook register|list|delete -id X` manages the shop's Vipps
// MobilePay webhook registration (vipps_webhook.go): in sandbox mode the
// shop registers by itself at start; against the real Vipps, register once
// with this command. `shop altpay-webhook register|list|delete -id X` does
// the same for the Alternative Payments subscription (altpay_webhook.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alexedwards/scs/v2"
	"golang.org/x/crypto/bcrypt"

	"refshop/db"
	"refshop/web"
	"refshop/web/clock"
	"refshop/web/config"
	"refshop/web/sandbox"
	"refshop/web/sandboxclock"
	"refshop/web/secret"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cmd string
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	var err error
	switch cmd {
	case "admin":
		err = runAdmin(ctx, os.Args[2:], os.Getenv, os.Stdin, os.Stdout, bcrypt.DefaultCost)
	case "vipps-webhook":
		err = runVippsWebhook(ctx, os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
	case "altpay-webhook":
		err = runAltpayWebhook(ctx, os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
	default:
		err = run(ctx, os.Getenv, os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "shop: %v\n", err)
		os.Exit(1)
	}
}

// run serves the shop (and the sandbox) until ctx ends, then lets requests
// finish and closes the database.
func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	// Every provider exchange is recorded, redacted, into the database with
	// its order or account (web/exchanges.go). closeDeps writes what waits
	// after the background work, then closes the database.
	deps, closeDeps, err := openDeps(ctx, cfg, getenv, stderr)
	if err != nil {
		return err
	}
	defer closeDeps()
	log := deps.Log
	for _, w := range config.Warnings(getenv, cfg) {
		log.Warn(w)
	}
	warnOfOtherBaseURLs(ctx, deps.Store, cfg, log)
	if err := adminFromEnv(ctx, cfg, deps.Store, log, bcrypt.DefaultCost); err != nil {
		return err
	}

	sessionStore := deps.DB.SessionStore(5 * time.Minute)
	defer sessionStore.StopCleanup()
	sessions := scs.New()
	sessions.Store = sessionStore
	sessions.Lifetime = 30 * 24 * time.Hour // a cart is worth keeping for a month
	sessions.IdleTimeout = 7 * 24 * time.Hour
	sessions.Cookie.Name = "refshop_session"
	sessions.Cookie.HttpOnly = true
	sessions.Cookie.SameSite = http.SameSiteLaxMode
	sessions.Cookie.Secure = strings.HasPrefix(cfg.ShopBaseURL, "https://")

	// The sandbox is built before the provider clients: its clock is the
	// emulated providers' time, which the shop's provider token lifetimes
	// follow (ProviderClock). A sandbox running apart is followed from here.
	var sb *sandbox.Sandbox
	var apart *sandboxclock.Clock
	switch {
	case cfg.SandboxAddr != "":
		if sb, err = sandbox.New(sandbox.ConfigFrom(cfg), log.With("component", "sandbox"), nil); err != nil {
			return err
		}
		defer sb.Close()
		deps.ProviderClock = sb.State.Clock
	case cfg.SandboxApart:
		apart = followSandbox(ctx, cfg.SandboxURL, deps.Clock, log)
		deps.ProviderClock = apart
	}
	if deps.ProviderClock != nil {
		deps.Recorder.SetProviderClock(deps.ProviderClock.Now)
	}
	deps.Sessions = sessions
	deps.SubscribeAtStart = true
	// One client per provider for the whole process: each holds its shared
	// token (Vipps's access token, Alternative Payments' OAuth token, ...).
	deps = web.WithProviderClients(deps)
	app := web.New(deps)
	if sb != nil {
		// A reset forgets the sandbox's webhook registrations: register
		// again at once rather than at the next check.
		sb.State.OnReset(app.RecheckWebhooks)
	}

	servers := []*http.Server{{Addr: cfg.ShopAddr, Handler: app, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}}
	if sb != nil {
		servers = append(servers, &http.Server{Addr: cfg.SandboxAddr, Handler: sb, ReadHeaderTimeout: 10 * time.Second})
	}

	// Listen first, so the banner is printed only once both ports are ours.
	listeners := make([]net.Listener, len(servers))
	for i, s := range servers {
		l, err := net.Listen("tcp", s.Addr)
		if err != nil {
			for _, open := range listeners[:i] {
				open.Close()
			}
			return fmt.Errorf("listen on %s: %w", s.Addr, err)
		}
		listeners[i] = l
	}
	printBanner(stdout, getenv, cfg)

	// The payment flows' sweeps stop with bgCtx, and RunBackground returns
	// only once the provider work that requests left running has ended too:
	// the database closes after both.
	bgCtx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	bgDone := make(chan struct{})
	go func() {
		defer close(bgDone)
		app.RunBackground(bgCtx)
	}()
	if apart != nil {
		ticker := time.NewTicker(sandboxclock.Every)
		defer ticker.Stop()
		go apart.Run(bgCtx, ticker.C)
	}

	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() {
			if err := s.Serve(listeners[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down: letting requests finish")
	case err := <-errc:
		log.Error("server failed", "error", err)
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var errs []error
	for _, s := range servers {
		errs = append(errs, s.Shutdown(shutdown))
	}
	stopBackground()
	<-bgDone
	log.Info("stopped; closing the database")
	return errors.Join(errs...)
}

// openBox loads the encryption key (SHOP_SECRET_KEY, or the key file in the
// data dir) and refuses to start when it is not the key this database was
// used with: stored tokens would not open, and that must be loud.
func openBox(ctx context.Context, cfg config.Config, store *db.Store) (*secret.Box, error) {
	key := cfg.SecretKey
	if key == nil {
		var err error
		if key, err = secret.LoadOrCreateKeyFile(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
	}
	ok, err := store.CheckKey(ctx, secret.Fingerprint(key))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("SHOP_SECRET_KEY: this is not the key the database in SHOP_DATA_DIR was created with; " +
			"stored tokens cannot be decrypted. Restore the original key, or start with an empty SHOP_DATA_DIR")
	}
	return secret.NewBox(key)
}

func printBanner(out io.Writer, getenv func(string) string, cfg config.Config) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nRefshop is running.\n\n  Shop:     %s\n", cfg.ShopBaseURL)
	switch {
	case cfg.SandboxApart:
		fmt.Fprintf(&b, "  Sandbox:  %s  (running apart: SANDBOX_URL; its clock is followed)\n", cfg.SandboxURL)
	case cfg.SandboxURL != "":
		fmt.Fprintf(&b, "  Sandbox:  %s  (provider sandbox and its control API)\n", cfg.SandboxURL)
	default:
		fmt.Fprintf(&b, "  Sandbox:  off\n")
	}
	fmt.Fprintf(&b, "  Data:     %s\n\nProviders:\n", cfg.DataDir)
	row := func(name string, mode config.Mode, url string) {
		fmt.Fprintf(&b, "  %-28s %-8s %s\n", name, mode, url)
	}
	row("Klarna Payments", cfg.Klarna.Mode, cfg.Klarna.APIURL)
	row("Sign in with Klarna", cfg.Klarna.Mode, cfg.Klarna.LoginURL)
	row("Vipps MobilePay", cfg.Vipps.Mode, cfg.Vipps.APIURL)
	row("Alternative Payments", cfg.Altpay.Mode, cfg.Altpay.APIURL)

	// Only the built-in sandbox defaults are printed; a value someone set
	// themselves is a secret and stays out of the terminal and the logs.
	fmt.Fprintf(&b, "\nSandbox credentials in use:\n")
	for _, name := range []string{"KLARNA_USERNAME", "KLARNA_PASSWORD", "KLARNA_CLIENT_ID", "KLARNA_CLIENT_SECRET",
		"VIPPS_CLIENT_ID", "VIPPS_CLIENT_SECRET", "VIPPS_SUBSCRIPTION_KEY", "VIPPS_MSN",
		"ALTPAY_CLIENT_ID", "ALTPAY_CLIENT_SECRET"} {
		v := config.Defaults[name]
		if !config.IsDefault(getenv, name) {
			v = "(set in the environment; not printed)"
		}
		fmt.Fprintf(&b, "  %-24s %s\n", name, v)
	}
	fmt.Fprintln(out, b.String())
}

// followSandbox is the clock of the sandbox running apart at sandboxURL,
// read once before the shop serves (so its first requests run on the
// sandbox's time; an unreachable sandbox is warned about and followed once
// it answers). Its reads are not provider exchanges: a client of their own,
// unrecorded, that gives up within sandboxclock.Every.
func followSandbox(ctx context.Context, sandboxURL string, local clock.Clock, log *slog.Logger) *sandboxclock.Clock {
	c := sandboxclock.New(sandboxURL, &http.Client{Timeout: sandboxclock.Every}, local, log.With("component", "sandbox clock"))
	_ = c.Sync(ctx)
	return c
}

func logLevel(getenv func(string) string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(getenv("LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// warnOfOtherBaseURLs tells, at start, of another shop instance on this
// database that started lately with another SHOP_BASE_URL: instances behind
// one proxy must share the proxy's, or the same idempotency key goes to a
// provider with two bodies (Klarna's merchant_urls carry it) and each
// instance registers its own webhook. A failure to check is logged and the
// start goes on: the check helps, it guards nothing.
func warnOfOtherBaseURLs(ctx context.Context, store *db.Store, cfg config.Config, log *slog.Logger) {
	others, err := store.RecordBaseURL(ctx, cfg.ShopBaseURL, 24*time.Hour)
	if err != nil {
		log.Warn("could not compare SHOP_BASE_URL with the other instances'", "error", err)
		return
	}
	for _, o := range others {
		log.Warn("another shop instance on this database started with another SHOP_BASE_URL: instances must share one public base URL (the proxy's)",
			"this", cfg.ShopBaseURL, "other", o.BaseURL, "other_started_at", o.StartedAt.Format(time.RFC3339))
	}
}

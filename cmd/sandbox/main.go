// Command sandbox runs the provider sandbox alone: for tools and demos that
// want the emulated providers without the shop, and for shops that use a
// sandbox running apart (SANDBOX_URL). It reads the same environment
// variables as the shop (config.LoadSandbox), so given the shop's it accepts
// the same credentials and knows the shop's origin (SHOP_BASE_URL); it
// listens on SANDBOX_ADDR.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"refshop/web/config"
	"refshop/web/sandbox"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := config.LoadSandbox(os.Getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: configuration:\n%v\n", err)
		os.Exit(2)
	}
	sb, err := sandbox.New(sandbox.ConfigFrom(cfg), log, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: %v\n", err)
		os.Exit(1)
	}
	defer sb.Close()
	srv := &http.Server{Addr: cfg.SandboxAddr, Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("provider sandbox listening", "url", cfg.SandboxURL, "addr", cfg.SandboxAddr, "shop", cfg.ShopBaseURL, "data", cfg.DataDir)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("sandbox stopped", "error", err)
		os.Exit(1)
	}
	<-stopped // requests finish (and save) before the file closes
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"refshop/web"
	"refshop/web/config"
)

// altpayWebhookUsage is what `shop altpay-webhook` prints when it is used
// wrong.
const altpayWebhookUsage = `usage: shop altpay-webhook register | list | delete -id <subscription id>

  register  subscribe SHOP_BASE_URL/webhooks/altpay to invoice_paid with a secret the shop
            generates and keeps sealed in its database; a subscription of the shop's that
            exists already is reused, so running it twice makes one
  list      every webhook subscription of the Alternative Payments account
  delete    unsubscribe one (the shop forgets its secret when it was the shop's)

In sandbox mode the shop subscribes by itself at start; run this against the real API
(ALTPAY_API_URL set), with the shop's configuration and data dir.`

// runAltpayWebhook is `shop altpay-webhook ...`: the shop's webhook
// subscription at Alternative Payments (web/altpay_webhook.go). Its calls
// are recorded, redacted, with the shop's other provider exchanges.
func runAltpayWebhook(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(altpayWebhookUsage)
	}
	verb := args[0]
	fs := flag.NewFlagSet("altpay-webhook "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "the subscription id (delete)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("altpay-webhook: unexpected arguments %q\n%s", fs.Args(), altpayWebhookUsage)
	case verb == "delete" && *id == "":
		return errors.New("altpay-webhook delete: -id is required (see `shop altpay-webhook list`)")
	case verb != "register" && verb != "list" && verb != "delete":
		return fmt.Errorf("altpay-webhook: unknown command %q\n%s", verb, altpayWebhookUsage)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if verb == "register" && cfg.Altpay.Mode == config.Real && !strings.HasPrefix(cfg.ShopBaseURL, "https://") {
		return fmt.Errorf("altpay-webhook register: SHOP_BASE_URL is %s; Alternative Payments delivers to HTTPS endpoints only", cfg.ShopBaseURL)
	}
	d, closeDeps, err := openProviders(ctx, cfg, getenv, stderr)
	if err != nil {
		return err
	}
	defer closeDeps()
	hooks := web.NewAltpayWebhooks(d)

	switch verb {
	case "register":
		sub, made, err := hooks.Ensure(ctx)
		if err != nil {
			return fmt.Errorf("altpay-webhook register: %w", err)
		}
		what := "Subscribed"
		if !made {
			what = "Already subscribed; nothing changed:"
		}
		fmt.Fprintf(stdout, "%s %s to %s (subscription %s, secret ending %s).\n", what, sub.EndpointURL, sub.Topic, sub.ID, sub.SecretLast4)
	case "list":
		list, err := hooks.List(ctx)
		if err != nil {
			return fmt.Errorf("altpay-webhook list: %w", err)
		}
		if len(list) == 0 {
			fmt.Fprintln(stdout, "No webhook subscriptions.")
		}
		for _, w := range list {
			mine := ""
			if w.EndpointURL == hooks.URL() {
				mine = "  (this shop's URL)"
			}
			fmt.Fprintf(stdout, "%s  %-16s active=%-5t secret …%s  %s%s\n", w.ID, w.Topic, w.IsActive, w.SecretLast4, w.EndpointURL, mine)
		}
	case "delete":
		if err := hooks.Delete(ctx, *id); err != nil {
			return fmt.Errorf("altpay-webhook delete %s: %w", *id, err)
		}
		fmt.Fprintf(stdout, "Deleted subscription %s.\n", *id)
	}
	return nil
}

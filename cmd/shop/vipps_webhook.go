package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"refshop/web"
)

const vippsWebhookUsage = "usage: shop vipps-webhook register | list | delete -id <webhook id>"

// runVippsWebhook is `shop vipps-webhook register|list|delete -id X`: the
// shop's Vipps MobilePay webhook registration against the Vipps API the
// configuration names (VIPPS_API_URL). register finds the shop's
// registration of SHOP_BASE_URL/webhooks/vipps or makes it, as sandbox mode
// does at start (web.VippsWebhooks.Ensure), and stores its secret sealed in
// the shop's database, where the running shop reads it for every delivery.
// Its calls are recorded like the shop's own.
func runVippsWebhook(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(vippsWebhookUsage)
	}
	fs := flag.NewFlagSet("vipps-webhook "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "the registration to delete (delete only)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 || (*id != "") != (args[0] == "delete") {
		return errors.New(vippsWebhookUsage)
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	d, closeDeps, err := openProviders(ctx, cfg, getenv, stderr)
	if err != nil {
		return err
	}
	defer closeDeps()
	hooks := web.NewVippsWebhooks(d)

	switch args[0] {
	case "register":
		wid, made, err := hooks.Ensure(ctx)
		switch {
		case err != nil:
			return fmt.Errorf("vipps-webhook register: %w", err)
		case made:
			fmt.Fprintf(stdout, "Registered %s for the ePayment events at %s as %s; its secret is stored sealed in the shop's database.\n",
				hooks.URL(), cfg.Vipps.APIURL, wid)
		default:
			fmt.Fprintf(stdout, "%s is registered already at %s as %s; nothing changed.\n", hooks.URL(), cfg.Vipps.APIURL, wid)
		}
	case "list":
		list, err := hooks.List(ctx)
		if err != nil {
			return fmt.Errorf("vipps-webhook list: %w", err)
		}
		if len(list) == 0 {
			fmt.Fprintf(stdout, "No webhooks are registered at %s.\n", cfg.Vipps.APIURL)
		}
		for _, h := range list {
			mark := ""
			if h.URL == hooks.URL() {
				mark = "  (this shop's URL)"
			}
			fmt.Fprintf(stdout, "%s  %s  %s%s\n", h.ID, h.URL, strings.Join(h.Events, ","), mark)
		}
	case "delete":
		if err := hooks.Delete(ctx, *id); err != nil {
			return fmt.Errorf("vipps-webhook delete: %w", err)
		}
		fmt.Fprintf(stdout, "Deleted %s at %s.\n", *id, cfg.Vipps.APIURL)
	default:
		return errors.New(vippsWebhookUsage)
	}
	return nil
}

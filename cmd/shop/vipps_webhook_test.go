package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"refshop/db"
	"refshop/web/config"
	"refshop/web/sandbox"
	"refshop/web/sandbox/sandboxtest"
)

// `shop vipps-webhook register` registers once and stores the secret
// sealed; list shows it; delete removes it at Vipps and in the database.
func TestVippsWebhookCommand(t *testing.T) {
	defaults, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	sc := sandbox.ConfigFrom(defaults)
	sc.BaseURL = ""
	sb := sandboxtest.Start(t, sc, nil)
	dir := t.TempDir()
	env := map[string]string{"SHOP_DATA_DIR": dir, "VIPPS_API_URL": sb.URL + "/vipps", "SHOP_BASE_URL": "https://shop.example", "LOG_LEVEL": "ERROR"}
	for _, k := range []string{"VIPPS_CLIENT_ID", "VIPPS_CLIENT_SECRET", "VIPPS_SUBSCRIPTION_KEY", "VIPPS_MSN"} {
		env[k] = config.Defaults[k]
	}
	getenv := func(k string) string { return env[k] }
	cmd := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := runVippsWebhook(t.Context(), args, getenv, &out, io.Discard)
		return out.String(), err
	}

	out, err := cmd("register")
	if err != nil || !strings.Contains(out, "Registered https://shop.example/webhooks/vipps") {
		t.Fatalf("register: %v %q", err, out)
	}
	if out, err := cmd("register"); err != nil || !strings.Contains(out, "registered already") {
		t.Fatalf("register again: %v %q", err, out)
	}
	if n := sb.State.Calls("vipps.webhooks_register"); n != 1 {
		t.Errorf("%d registers", n)
	}
	list, err := cmd("list")
	if err != nil || strings.Count(list, "\n") != 1 || !strings.Contains(list, "(this shop's URL)") {
		t.Fatalf("list: %v %q", err, list)
	}
	id := strings.Fields(list)[0]

	database, err := db.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	row, err := db.NewStore(database, nil).VippsWebhookByURL(t.Context(), env["VIPPS_API_URL"], "https://shop.example/webhooks/vipps")
	if err != nil || row.WebhookID != id || !strings.HasPrefix(row.Secret, "v1:") {
		t.Fatalf("stored %+v %v", row, err)
	}
	// The register answer is recorded with its secret redacted.
	var answer string
	err = database.Read.QueryRow(`SELECT resp_body FROM exchanges WHERE operation = 'webhooks_register'`).Scan(&answer)
	database.Close()
	if err != nil || !strings.Contains(answer, `"secret":"[redacted`) || !strings.Contains(answer, id) {
		t.Fatalf("recorded register answer %q, %v", answer, err)
	}

	if out, err := cmd("delete", "-id", id); err != nil || !strings.Contains(out, "Deleted "+id) {
		t.Fatalf("delete: %v %q", err, out)
	}
	if out, err := cmd("list"); err != nil || !strings.Contains(out, "No webhooks are registered") {
		t.Fatalf("list after delete: %v %q", err, out)
	}
	for _, bad := range [][]string{{}, {"delete"}, {"register", "-id", "x"}, {"purge"}} {
		if _, err := cmd(bad...); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("%v: %v, want the usage", bad, err)
		}
	}
}

package main

import (
	"context"
	"fmt"

	"refshop/db"
	"refshop/web/config"
)

// openShop loads the configuration and opens the shop's database: what
// serving and every command (admin, vipps-webhook) start with. The caller
// closes the database.
func openShop(ctx context.Context, getenv func(string) string) (config.Config, *db.DB, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return cfg, nil, fmt.Errorf("configuration:\n%v\n(see .env.example)", err)
	}
	database, err := db.Open(ctx, cfg.DataDir)
	if err != nil {
		return cfg, nil, err
	}
	return cfg, database, nil
}

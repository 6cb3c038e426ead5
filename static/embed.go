// Package static holds the files pages load: the shop's CSS, images and small
// scripts, and the sandbox's own assets under sandbox/. They are embedded so
// the binary serves everything a page needs; nothing comes from a CDN.
package static

import "embed"

// FS holds css/, img/ and js/ (the shop's, served at /static/) and sandbox/ (the
// sandbox's, served at its /assets/).
//
//go:embed css img js sandbox
var FS embed.FS

// Package web holds the approval inbox that the auth server serves under
// /: its HTML templates (templates/) and its script, style sheet and icon
// in dist/, built by esbuild from the npm project in app/ (app/src,
// app/build.mjs; ably-js bundled at the version app/package-lock.json
// pins). app/ is a module of its own without Go code, so that ./... never
// walks its node_modules.
//
// dist/ is committed, so that `go build` and `go vet` work on a clean
// clone without npm; `make web-check` rebuilds it and fails when the
// committed files differ from what app/src and the lockfile produce, and
// `make web` refreshes them. The page loads nothing from any other origin
// at run time.
//
// The package only embeds files: it must not import anything of the
// project. internal/authserver renders the templates and serves dist/.
package web

import (
	"embed"
	"io/fs"
)

//go:embed templates/pages.html dist/app.js dist/app.css dist/icon.svg
var files embed.FS

// Templates returns the HTML templates (pages.html).
func Templates() fs.FS { return sub("templates") }

// Assets returns the built files served under /assets/.
func Assets() fs.FS { return sub("dist") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // cannot happen: dir is a constant that the embed pattern names
	}
	return f
}

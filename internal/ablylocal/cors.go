package ablylocal

import (
	"net/http"
	"strings"
)

// corsMaxAge is how long a browser may cache a preflight answer (seconds).
const corsMaxAge = "86400"

// withCORS lets browsers call the REST API from any origin, as Ably's own
// REST endpoint does: ably-js in a web page (the approval inbox) reads
// channel history over REST with its token in the Authorization header,
// which is a cross-origin request with a preflight, in credentials mode
// "include". Like Ably, the server allows the requesting origin with
// credentials: it never reads cookies (credentials travel in the
// Authorization header only), so this lets no page do more than its own
// token allows. A preflight (OPTIONS with Access-Control-Request-Method)
// is answered 204 without authentication; every other response to a
// request with an Origin carries the CORS headers.
func withCORS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		if origin := r.Header.Get("Origin"); origin != "" {
			hdr.Set("Access-Control-Allow-Origin", origin)
			hdr.Set("Access-Control-Allow-Credentials", "true")
			hdr.Add("Vary", "Origin")
			hdr.Set("Access-Control-Expose-Headers", "Link, X-Ably-Errorcode, X-Ably-Errormessage, X-Ably-Serverid")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			hdr.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				hdr.Set("Access-Control-Allow-Headers", strings.Join(strings.Fields(strings.ReplaceAll(req, ",", " ")), ", "))
			}
			hdr.Set("Access-Control-Max-Age", corsMaxAge)
			hdr.Add("Vary", "Access-Control-Request-Headers")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

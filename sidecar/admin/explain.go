package admin

import (
	"errors"
	"net/http"

	"github.com/meshlb/meshlb/sidecar/explain"
)

// explain answers GET /explain?request=...: why a request or connection
// would go where it goes (see [explain.ParseQuery] for the parameters),
// as text, or as JSON with format=json. A bad query is 400, a sidecar
// without configuration 503.
func (a *admin) explain(w http.ResponseWriter, r *http.Request) {
	q, err := explain.ParseQuery(r.URL.Query())
	if err != nil {
		http.Error(w, "explain: "+err.Error(), http.StatusBadRequest)
		return
	}
	rep, err := explain.Explain(a.sc, q)
	switch {
	case errors.Is(err, explain.ErrNoConfig):
		http.Error(w, "explain: "+err.Error(), http.StatusServiceUnavailable)
		return
	case err != nil:
		http.Error(w, "explain: "+err.Error(), http.StatusBadRequest)
		return
	}
	if r.URL.Query().Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json")
		rep.WriteJSON(w)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rep.WriteText(w)
}

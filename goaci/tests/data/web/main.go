// The goaci tests' and benchmark's HTTP server: a vendored module's
// greeting, a file embedded at build time, and one read from an asset.
package main

import (
	_ "embed"
	"fmt"
	"net/http"
	"os"

	"example.com/greet"
)

//go:embed motd.txt
var motd string

func main() {
	css, err := os.ReadFile("/srv/static/site.css")
	if err != nil {
		panic(err)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s%s", greet.Hello(), motd, css)
	})
	panic(http.ListenAndServe(":8080", nil))
}

// The metadata service benchmark's client, run in a pod: GETs
// $AC_METADATA_URL/acMetadata/v1/pod/uuid N times, one request after the
// other on one kept-alive connection, checks every answer, and prints
// the requests per second.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "usage: mds-client REQUESTS")
		os.Exit(2)
	}
	url := os.Getenv("AC_METADATA_URL") + "/acMetadata/v1/pod/uuid"
	client := &http.Client{Timeout: 5 * time.Second}
	get := func() string {
		resp, err := client.Get(url)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			fmt.Fprintln(os.Stderr, "status", resp.StatusCode, err)
			os.Exit(1)
		}
		return string(body)
	}
	want := get()
	start := time.Now()
	for i := 0; i < n; i++ {
		if got := get(); got != want {
			fmt.Fprintln(os.Stderr, "a different answer:", got)
			os.Exit(1)
		}
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("requests/s: %.0f (%d in %.2f s)\n", float64(n)/secs, n, secs)
}

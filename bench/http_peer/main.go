// The Go side of bench/http_compare: net/http serving the seed's GET /
// ({"Hello": "World"}) on 127.0.0.1:PORT, with GOMAXPROCS = -threads, the
// way http_server's --threads sets weft's workers. Stops on SIGTERM.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
)

func main() {
	port := flag.Int("port", 8000, "TCP port on 127.0.0.1")
	threads := flag.Int("threads", 1, "GOMAXPROCS")
	flag.Parse()
	runtime.GOMAXPROCS(*threads)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"Hello": "World"}`)
	})
	fmt.Printf("serving on 127.0.0.1:%d\n", *port)
	if err := http.ListenAndServe(fmt.Sprintf("127.0.0.1:%d", *port), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// The Go side of bench/tls_compare: a crypto/tls echo server on
// 127.0.0.1:PORT, one goroutine per connection echoing through a 64 KiB
// buffer, as examples/tls_echo_server does in weft. GOMAXPROCS is -threads
// when given, else the environment's GOMAXPROCS (Go's own default
// otherwise), the way tls_echo_server's --threads sets weft's workers.
// Standard library only. Prints its listening line; stops on SIGTERM.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
)

func echo(conn net.Conn) {
	defer conn.Close()
	buf := make([]byte, 64*1024)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := conn.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			// io.EOF is the client's close_notify; anything else (a reset,
			// a failed handshake) ends this connection alone.
			return
		}
	}
}

func main() {
	cert := flag.String("cert", "", "the server's certificate chain (PEM)")
	key := flag.String("key", "", "its private key (PEM)")
	port := flag.Int("port", 8443, "TCP port on 127.0.0.1 (0: any free one)")
	threads := flag.Int("threads", 0, "GOMAXPROCS (0: the environment's, else Go's default)")
	flag.Parse()
	if *cert == "" || *key == "" {
		fmt.Fprintln(os.Stderr, "tls_peer: -cert and -key are required")
		os.Exit(2)
	}
	if *threads > 0 {
		runtime.GOMAXPROCS(*threads)
	}
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tls_peer:", err)
		os.Exit(1)
	}
	config := &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	ln, err := tls.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port), config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tls_peer:", err)
		os.Exit(1)
	}
	fmt.Printf("go tls echo server listening on %s (GOMAXPROCS=%d)\n", ln.Addr(), runtime.GOMAXPROCS(0))
	for {
		conn, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "tls_peer:", err)
			os.Exit(1)
		}
		go echo(conn)
	}
}

// Command maillab is an e-mail protocol lab: it starts real mail agents on
// real loopback sockets, wires them into the topology a scenario file
// describes, and prints the protocol dialogue between them as a transcript a
// class can read line by line.
//
// Run "maillab --help" for the commands; the README has a tour.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], stdStreams())
	stop()
	os.Exit(code)
}

// Package scenarios reads lab scenarios — YAML files that say which agents
// run, which users exist and what happens, step by step — and runs them:
// a scenario is both a classroom demonstration and an automated test.
//
// A scenario file:
//
//	name: first-message                  # letters, digits, '.', '-', '_'
//	description: Alice writes to Bob.
//	users:
//	  - {address: alice@example.test, password: alice}
//	agents:                              # kinds: see Kinds
//	  - {name: mx.example.test, kind: mta, domains: [example.test], deliver_to: mda.example.test,
//	     max_message_size: 10MiB, max_recipients: 100, listen: {smtp: "127.0.0.1:2525"}}
//	  - {name: mda.example.test, kind: mda, domains: [example.test]}
//	  - {name: alice-laptop, kind: mua, user: alice@example.test, hostname: laptop.example.test}
//	steps:
//	  - say: "A note for the class."
//	  - send: {as: alice-laptop, via: mx.example.test, to: bob@example.test,  # to, cc, bcc: one or a list
//	           from: alice@example.test, subject: Hi, body: "...", expect: "550 5.1.1"}
//	  - wait: {mailbox: bob@example.test, count: 1, timeout: 5s}
//	  - expect: {mailbox: bob@example.test, count: 1, message: 1,
//	             headers: {Subject: Hi}, header_count: {Received: 2}}
//	  - pause: "Open Bob's Maildir."     # stops only in step mode (Options.Pause)
//	  - smtp:                            # typed by hand; each reply checked
//	      as: alice-laptop
//	      via: mx.example.test
//	      dialogue:
//	        - {send: "MAIL FROM:<alice@example.test>", expect: 250}
//	        - {send: "DATA", expect: 354}
//	        - {data: "Subject: x\n\nbody", expect: 250}   # or data_size: 20KiB
//
// Unknown keys, wrong types, names that refer to nothing, bad addresses,
// sizes (10MiB, 64KiB, 100kB, 2048), durations (5s) and reply codes (250,
// "550 5.7.1") are all reported at once by Parse, one "file:line:col: what
// is wrong" per line, sorted by position.
//
// Start builds the agents from an explicit table of kinds (mta, mda, mua;
// later open-relay, smarthost, dns, lda) and starts them in dependency
// order, an MDA before the MTA that delivers to it; Lab.Run executes the
// steps and notes each in the transcript ("step 6: expect bob@example.test
// has 1 message: ok"); Lab.Stop stops the agents in reverse order.
//
// # Standards
//
// Reply codes are RFC 5321 section 4.2 codes, with RFC 3463 enhanced status
// codes; addresses follow RFC 5321 section 4.1.2 (protocols/mail).
//
// # Security
//
// A scenario file is input from a teacher or a student: Parse never panics,
// bounds the file (MaxFileBytes), numbers, sizes (MaxSize), durations (1h)
// and generated data (MaxDataSize), and escapes control characters in its
// error messages. A running lab listens on loopback (Options.Host) and
// writes only under its directory (Options.Dir).
//
// # Limits
//
// Steps run one after another. A wait step polls the Maildir every 10ms up
// to its timeout (default 5s). A send or smtp step ends once the
// transcript has recorded its connections closed (at most 5s), so that the
// runner's notes come after them in every run.
package scenarios

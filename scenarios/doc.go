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
//	  - {name: mda.example.test, kind: mda, domains: [example.test],
//	     max_connections: 100}           # open sessions per server (POP3, IMAP); default 100
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
// A device is an mua agent: its user is the account it reads, with the
// password from users. It reads from an mda (via) with two more steps:
//
//	steps:
//	  # POP3: download. delete: true (the default) deletes after download;
//	  # false leaves the mail on the server, and the next download skips the
//	  # UIDs (UIDL) the device has already. apop: true logs in with APOP.
//	  - pop3: {as: bob-laptop, via: mda.example.test, delete: false,
//	           expect: {downloaded: 2, skipped: 0, deleted: 0, left: 2}}  # any of the four
//	  - pop3: {as: bob-phone, via: mda.example.test, expect: "-ERR [IN-USE]"}  # the refusal wanted
//
//	  # IMAP: the device's session opens on first use and stays open, like a
//	  # phone's, until the lab stops. do: list, read, mark_read, move,
//	  # delete or idle; folder defaults to INBOX; message is a position in
//	  # the list (1 is the oldest), {subject: "..."} (exactly one message
//	  # must have it) or {uid: 7}.
//	  - imap: {as: bob-phone, via: mda.example.test, do: read, message: {subject: "Lunch on Friday"}}
//	  - imap: {as: bob-phone, via: mda.example.test, do: mark_read, message: 1}
//	  - imap: {as: bob-laptop, via: mda.example.test, do: move, message: {uid: 3}, to: Archive}  # made when missing
//	  - imap: {as: bob-laptop, via: mda.example.test, do: delete, folder: Archive, message: 1}
//	  - imap: {as: bob-laptop, via: mda.example.test, do: list, message: {subject: "Lunch on Friday"},
//	           expect: {count: 2, subjects: ["Slides", "Lunch on Friday"], flags: [\Seen], no_flags: [\Deleted]}}
//	  - imap: {as: bob-laptop, via: mda.example.test, do: list, folder: Nowhere, expect: "NO"}  # or "NO [TRYCREATE]", BAD
//	  - imap:                          # IDLE until the server pushes news
//	      as: bob-phone
//	      via: mda.example.test
//	      do: idle
//	      until: exists                # the default; or expunge, flags, any
//	      timeout: 5s                  # the default; counted after the while steps
//	      while:                       # steps run once the server said "+ idling"
//	        - send: {as: alice-laptop, via: mx.example.test, to: bob@example.test, subject: Hi}
//	      expect: {count: 3}           # the n of "* n EXISTS"
//
//	  # expect also checks a folder, a message's flags (in the file name as
//	  # :2,S), or what a device downloaded:
//	  - expect: {mailbox: bob@example.test, folder: Archive, count: 1}
//	  - expect: {mailbox: bob@example.test, message: {subject: "Lunch on Friday"},
//	             flags: [\Seen], maildir_flags: S}    # maildir_flags: "" means none
//	  - expect: {device: bob-phone, count: 0}
//
// Flags are IMAP system flags (\Seen, \Answered, \Flagged, \Deleted,
// \Draft; \Recent too in an imap list); YAML takes them bare, [\Seen],
// or in single quotes. A pop3 or imap step's as must be an mua whose user
// has a password, and its via an mda that keeps that user's mail; a while
// step may not use the idling device's session (it is busy until DONE).
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
// has 1 message: ok"); Lab.Stop logs the devices' IMAP sessions out, one
// after another, then stops the agents in reverse order.
//
// What to watch in the transcript of a reading step: the runner's note of
// what the device does, the dialogue, then what the device saw ("bob-laptop
// sees in INBOX: UID 4 "Lunch on Friday" (\Seen)") and each check. An IMAP
// device's news from other devices ("* 2 FETCH (UID 4 FLAGS (\Seen))",
// "* 1 EXPUNGE") comes before the answer to its next command.
//
// # Standards
//
// Reply codes are RFC 5321 section 4.2 codes, with RFC 3463 enhanced status
// codes; addresses follow RFC 5321 section 4.1.2 (protocols/mail). Reading
// steps speak RFC 1939 (POP3; UIDL section 7, UPDATE section 6) with RFC
// 2449 response codes ([IN-USE]), and RFC 3501 (IMAP4rev1; system flags
// section 2.3.2, folder names section 5.1) with RFC 6851 (MOVE) and RFC
// 2177 (IDLE).
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
// to its timeout (default 5s). A send, smtp or pop3 step ends once the
// transcript has recorded its connections closed (at most 5s), so that the
// runner's notes come after them in every run. With Options.Repeatable
// (golden files), while an idle's while steps run the lab also holds the
// news of IDLE sessions (the store's Options.Wake) and lets it out when they
// have ended: the "* n EXISTS" then comes after the sender's QUIT rather
// than right after the MDA's LMTP 250, always in the same place. A live run
// shows it where the server sends it. An idle's steps count as one step in
// the Result; their notes carry its number.
package scenarios

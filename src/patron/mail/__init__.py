"""The email channel: inbound (IMAP, SMTP/LMTP listener, pipe), parsing, threading, outbound."""

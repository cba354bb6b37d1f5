"""Messages in and out: the inbound pipeline (store, then announce) and the operations the
/message, /chat, /group and /label routes call."""

"""What pycontainerd manages, free of any transport: metadata records and their store, the
event exchange, containerd's filter syntax and identifier rules."""

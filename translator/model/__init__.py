"""The network: its config, encoder, attention, decoder and the Seq2Seq that joins them (torch only)."""

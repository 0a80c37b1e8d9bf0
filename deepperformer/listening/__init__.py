"""The listening-test kit: build blinded test sets, run them in a browser page, analyse the answers."""

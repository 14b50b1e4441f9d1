# Convenience wrappers; the scripts do the work (and install what is missing).
.PHONY: run test stop bench lint
run:
	scripts/run.sh
test:
	scripts/test.sh
stop:
	scripts/stop.sh
bench:
	cargo run --release -p dvp-bench
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

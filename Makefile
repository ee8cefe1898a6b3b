.PHONY: run test test-long bench install

run:          ## install, migrate, declare topology, start every service and the demo page
	scripts/run

test:         ## every test plus ruff and mypy
	scripts/test

test-long:    ## fault injection and soak runs (minutes)
	scripts/test -m slow

bench:        ## benchmarks; each prints a table
	scripts/bench

install:
	scripts/bootstrap

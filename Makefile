.PHONY: run test test-long compose-test bench install

run:          ## install, migrate, declare topology, start every service and the demo page
	scripts/run

test:         ## every test plus ruff, mypy, the import graph and the web client's lint
	scripts/test

test-long:    ## fault injection and soak runs, then compose-test (minutes)
	scripts/test -m slow
	scripts/compose-test

compose-test: ## docker-compose up for real with local stand-in images, checked, torn down
	scripts/compose-test

bench:        ## benchmarks; each prints a table
	scripts/bench

install:
	scripts/bootstrap

PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: build run test bench clean

build:
	./scripts/setup.sh
	swift build -c release --product appconfig-agent --static-swift-stdlib

run:
	./scripts/run-local.sh

test:
	./scripts/test.sh

bench:
	./bench/run.sh

clean:
	rm -rf .build

PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: build run test bench bench-flags clean

build:
	./scripts/setup.sh
	swift build -c release --product appconfig-agent --static-swift-stdlib

run:
	./scripts/run-local.sh

test:
	./scripts/test.sh

bench:
	./bench/run.sh
	$(MAKE) bench-flags

# Evaluation cost per flag (20 flags × 5 variants), a micro-benchmark.
bench-flags:
	swift run -c release flag-bench

clean:
	rm -rf .build

# Installation: the binary built by `make build`, the systemd unit, the sysusers.d entry for the
# agent's user and, when none exists, an example /etc/default/appconfig-agent. Units go to
# $(PREFIX)/lib/systemd/system (/usr/local/lib/systemd/system is on systemd's search path;
# /etc/systemd/system stays the administrator's, for overrides), with ExecStart rewritten to
# $(BINDIR); with a PREFIX systemd does not search (/opt/…), set UNITDIR=/etc/systemd/system and
# SYSUSERSDIR=/etc/sysusers.d. DESTDIR stages into another root (packaging); without it, the user
# is created now.
BINDIR ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
SYSCONFDIR ?= /etc
BINARY ?= .build/release/appconfig-agent

.PHONY: install uninstall

install:
	@test -x "$(BINARY)" || { echo "install: $(BINARY) is missing: run 'make build' first" >&2; exit 1; }
	install -D -m 0755 "$(BINARY)" "$(DESTDIR)$(BINDIR)/appconfig-agent"
	install -d -m 0755 "$(DESTDIR)$(UNITDIR)"
	sed 's|^ExecStart=/usr/local/bin/|ExecStart=$(BINDIR)/|' systemd/appconfig-agent.service > "$(DESTDIR)$(UNITDIR)/appconfig-agent.service"
	chmod 0644 "$(DESTDIR)$(UNITDIR)/appconfig-agent.service"
	install -D -m 0644 systemd/appconfig-agent.sysusers "$(DESTDIR)$(SYSUSERSDIR)/appconfig-agent.conf"
	@if [ -e "$(DESTDIR)$(SYSCONFDIR)/default/appconfig-agent" ]; then \
		echo "install: keeping the existing $(DESTDIR)$(SYSCONFDIR)/default/appconfig-agent"; \
	else \
		echo "install -D -m 0600 systemd/appconfig-agent.default $(DESTDIR)$(SYSCONFDIR)/default/appconfig-agent"; \
		install -D -m 0600 systemd/appconfig-agent.default "$(DESTDIR)$(SYSCONFDIR)/default/appconfig-agent"; \
	fi
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null 2>&1; then \
		echo "systemd-sysusers $(SYSUSERSDIR)/appconfig-agent.conf"; \
		systemd-sysusers "$(SYSUSERSDIR)/appconfig-agent.conf"; \
	fi
	@echo "install: done; then: systemctl daemon-reload && systemctl enable --now appconfig-agent"

# Leaves the settings in $(SYSCONFDIR)/default/appconfig-agent, the backups in
# /var/lib/appconfig-agent and the user in place, as removing a package without purging does.
uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/appconfig-agent" \
		"$(DESTDIR)$(UNITDIR)/appconfig-agent.service" \
		"$(DESTDIR)$(SYSUSERSDIR)/appconfig-agent.conf"
	@echo "uninstall: kept $(SYSCONFDIR)/default/appconfig-agent, /var/lib/appconfig-agent and the appconfig-agent user"
